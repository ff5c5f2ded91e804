"""Errors of the Megatron-Core backend, rooted in `kit_config.errors.KitError`."""
from __future__ import annotations

from kit_config.errors import KitError

__all__ = ["McoreCheckpointError", "McoreError", "McoreUnavailableError", "SFTDataError"]


class McoreError(KitError):
    """Base of the errors the Megatron-Core backend raises on purpose."""


class McoreUnavailableError(McoreError, RuntimeError):
    """What the run needs (CUDA, megatron-core) is not present on this machine."""


class McoreCheckpointError(McoreError, ValueError):
    """A checkpoint folder is missing or is not one this backend wrote."""

    def __init__(self, path: str, problem: str, hint: str) -> None:
        self.path = path
        super().__init__(f"checkpoint {path}: {problem}", hint=hint)


class SFTDataError(McoreError, ValueError):
    """A packed SFT file does not hold what FORMATS.md section 5 says."""
