"""`ArtifactRef`: a pinned pointer to one published version of a registry artifact."""

from __future__ import annotations

import attrs

__all__ = [
    "ArtifactRef",
]


@attrs.frozen
class ArtifactRef:
    """One published version: its registry name and number, its data path and its type."""

    name: str
    version: int
    path: str
    type: str

    @property
    def uri(self) -> str:
        """The pinned URI `art://name:vN` that always means this exact version."""
        return f"art://{self.name}:v{self.version}"

    def __str__(self) -> str:
        return self.uri
