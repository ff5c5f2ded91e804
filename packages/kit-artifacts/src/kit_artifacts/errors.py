"""Errors of kit-artifacts, all rooted in `kit_config.errors.KitError` through `ArtifactError`.

Each concrete error also derives from the builtin it is (a missing version is a `LookupError`,
a malformed URI a `ValueError`), so callers may catch either, and each carries its context
(ref, path, available versions, ...) as attributes. `str(error)` is one line: what is wrong,
where, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

from kit_config.errors import KitError

__all__ = [
    "ArtifactError",
    "ArtifactMetadataError",
    "ArtifactNotFoundError",
    "ArtifactTypeError",
    "ArtifactURIError",
    "IntegrityError",
    "RegistryError",
    "format_versions",
]


def format_versions(versions: Sequence[int]) -> str:
    """Compact, readable list of version numbers: `v1..v5, v7, v9..v10` (or `none`)."""
    if not versions:
        return "none"
    ordered = sorted(set(versions))
    runs: list[str] = []
    start = prev = ordered[0]
    for v in [*ordered[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(f"v{start}" if start == prev else f"v{start}..v{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(runs)


class ArtifactError(KitError):
    """Base of kit-artifacts' errors: an artifact, its metadata, a URI or the registry is wrong."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """An artifact name, version or alias does not exist in the registry."""

    def __init__(
        self,
        message: str,
        *,
        ref: str,
        available: Sequence[int] = (),
        aliases: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.ref = ref
        self.available = tuple(sorted(available))
        self.aliases = tuple(sorted(aliases))

    def __str__(self) -> str:  # LookupError would otherwise repr() the args
        return KitError.__str__(self)


class ArtifactURIError(ArtifactError, ValueError):
    """An `art://` URI, artifact name, version or `${art:...}` expression is malformed."""

    def __init__(self, message: str, *, uri: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.uri = uri


class ArtifactTypeError(ArtifactError, TypeError):
    """An artifact type is unknown, or a stored artifact is not of the type asked for."""

    def __init__(
        self,
        message: str,
        *,
        type_name: str,
        expected: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.type_name = type_name
        self.expected = expected
        self.path = path


class ArtifactMetadataError(ArtifactError, ValueError):
    """A `metadata.json`, version record or manifest is missing, corrupt or has bad fields."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        key: str | None = None,
        problems: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.key = key
        self.problems = tuple(problems)


class RegistryError(ArtifactError, OSError):
    """The registry storage failed or is in a state we cannot work with."""

    def __init__(self, message: str, *, root: str, hint: str | None = None) -> None:
        ArtifactError.__init__(self, message, hint=hint)
        self.root = root

    def __str__(self) -> str:  # OSError would otherwise format its own args
        return KitError.__str__(self)


class IntegrityError(ArtifactError, ValueError):
    """An artifact's files do not match the manifest recorded when it was published."""

    def __init__(
        self,
        message: str,
        *,
        ref: str,
        missing: Sequence[str] = (),
        changed: Sequence[str] = (),
        extra: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.ref = ref
        self.missing = tuple(missing)
        self.changed = tuple(changed)
        self.extra = tuple(extra)
