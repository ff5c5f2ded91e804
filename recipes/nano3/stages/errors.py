"""Errors of the nano3 training stages, rooted in `kit_config.errors.KitError`.

Each concrete error also derives from the builtin it is, carries its context (file, key path,
backend, ...) as attributes, and prints as one line: what is wrong, where, how to fix it.
`TokenizerError` is `nano3.formats`' one, re-exported (data prep raises it too).
"""
from __future__ import annotations

from kit_config.errors import KitError
from nano3.formats.errors import FormatError, TokenizerError

__all__ = [
    "BackendRunError",
    "BackendUnavailableError",
    "CheckpointError",
    "DataFormatError",
    "StageConfigError",
    "StageError",
    "TokenizerError",
]


class StageError(KitError):
    """Base of the errors a nano3 training stage raises on purpose."""


class StageConfigError(StageError, ValueError):
    """A config value that only turns out wrong when the stage meets its data or model.

    (Problems visible in the config alone are reported by the config classes'
    `__kit_validate__`, before launch.) `key_path` names the key to change.
    """

    def __init__(self, stage: str, key_path: str, detail: str) -> None:
        self.stage = stage
        self.key_path = key_path
        self.detail = detail
        super().__init__(
            f"invalid {stage} config: {key_path}: {detail}",
            hint=f"change {key_path} in the config file or with {key_path}=VALUE",
        )


class DataFormatError(StageError, FormatError):
    """Training data on disk is missing or not in the format FORMATS.md describes.

    A `nano3.formats.FormatError` too (`path`, `detail`): stage code re-raises the shared
    format readers' errors as this class (`from_format`), so that a stage's caller catches
    one class for any bad training data.
    """

    template = "bad training data at {path}: {detail}"

    @classmethod
    def from_format(cls, exc: FormatError) -> DataFormatError:
        """The same problem (file, detail, hint) as raised by a `nano3.formats` reader."""
        return cls(exc.path, exc.detail, hint=exc.hint)


class CheckpointError(StageError, RuntimeError):
    """A checkpoint cannot be written, read, or resumed from."""

    def __init__(self, path: str, detail: str, *, hint: str | None = None) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"checkpoint {path}: {detail}", hint=hint)


class BackendUnavailableError(StageError, ImportError):
    """A training backend was selected whose framework is not importable here."""

    def __init__(self, backend: str, module: str, *, hint: str | None = None) -> None:
        self.backend = backend
        self.module = module
        super().__init__(
            f"backend {backend!r} needs the Python module {module!r}, which is not installed here",
            hint=hint or (
                "run the stage inside the framework's container (e.g. --run PROFILE with its "
                "container_image), or use backend=megatron-core"
            ),
        )


class BackendRunError(StageError, RuntimeError):
    """An external training framework ran and failed."""

    def __init__(self, backend: str, exit_code: int, log_dir: str) -> None:
        self.backend = backend
        self.returncode = exit_code
        self.log_dir = log_dir
        super().__init__(f"backend {backend!r} exited with {exit_code}",
                         hint=f"see its logs under {log_dir}")
