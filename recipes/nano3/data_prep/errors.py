"""Errors of nano3 data prep, rooted in `kit_config.errors.KitError`.

Each concrete error also derives from the builtin it is and carries its context (file, line,
key path, dataset) as attributes; `str(error)` is one line: what, where, how to fix.
`TokenizerError` is `nano3.formats`' one, re-exported (the training stages raise it too).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kit_config.errors import KitError
from nano3.formats.errors import TokenizerError

__all__ = [
    "DataPrepError",
    "EmptyInputError",
    "InputNotFoundError",
    "InputRecordError",
    "MergeTimeoutError",
    "TokenizerError",
]


def _rebuild(cls: type[DataPrepError], state: dict[str, Any]) -> DataPrepError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class DataPrepError(KitError):
    """Base of every error data prep raises on purpose.

    Picklable with its attributes, so an error raised in a worker process reaches the
    parent intact (the default pickling would call `__init__` with the message only).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self.__dict__)))


class InputNotFoundError(DataPrepError, FileNotFoundError):
    """A dataset's path or glob matched no file (or a file is empty)."""

    def __init__(self, dataset: str, pattern: str, *, reason: str = "matched no file") -> None:
        self.dataset = dataset
        self.pattern = pattern
        self.reason = reason
        super().__init__(
            f"dataset {dataset!r}: {pattern!r} {reason}",
            hint="check the path or glob in blend[].path (local path, s3://, hf:// or corpus://)",
        )


class InputRecordError(DataPrepError, ValueError):
    """One input record is malformed (bad JSON, non-UTF-8, missing field, unencodable)."""

    def __init__(self, reason: str, *, file: str, line: int, detail: str) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.detail = detail
        super().__init__(
            f"{file}:{line}: {detail} ({reason})",
            hint="fix the record, or set errors.policy=skip to skip and count such records",
        )


class MergeTimeoutError(DataPrepError, TimeoutError):
    """The merge step waited too long for other ranks' shards."""

    def __init__(self, directory: str, missing: Sequence[str], timeout_s: float) -> None:
        self.directory = directory
        self.missing = list(missing)
        self.timeout_s = timeout_s
        shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
        super().__init__(
            f"merge in {directory}: {len(self.missing)} shard(s) unfinished after "
            f"{timeout_s:.0f}s: {shown}",
            hint="check the other tasks' logs, then rerun: finished shards are kept",
        )


class EmptyInputError(DataPrepError, ValueError):
    """An input file is empty (policy fail), or a dataset yielded no usable record."""

    def __init__(self, dataset: str, file: str, detail: str = "is empty") -> None:
        self.dataset = dataset
        self.file = file
        super().__init__(
            f"dataset {dataset!r}: {file} {detail}",
            hint="remove it from the blend, or set errors.policy=skip to skip and count it",
        )
