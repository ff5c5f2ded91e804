"""Errors of kit-config, and `KitError`, the root of every error the kit raises on purpose.

Every kit package has one `errors` module whose base class derives from `KitError`. Each
concrete error also derives from the builtin it is (a missing file is a `FileNotFoundError`,
a bad value a `ValueError`), so callers can catch either, and each carries its context
(file, line, key path, ...) as attributes. `str(error)` is one readable line saying what is
wrong, where, and how to fix it.

This module must stay import-light (no omegaconf, no hydra): every kit package imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # without importing `typing`: this module is on every start path
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigNotFoundError",
    "ConfigProblem",
    "ConfigValidationError",
    "InterpolationError",
    "KitError",
    "OverrideError",
    "ProvenanceError",
    "ResolverError",
]


class KitError(Exception):
    """Root of every error the kit raises on purpose.

    `exit_code` is what a command-line entry point exits with when this error reaches it:
    2 means usage or input error (the convention of the `nemotron` CLI).
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class ConfigError(KitError):
    """Base of kit-config's errors: a config file, override, or typed config is wrong."""


def _where(file: str | None, line: int | None, column: int | None = None) -> str:
    """Format `file:line:column` with whatever parts are known ("" when none is)."""
    if file is None:
        return ""
    if line is None:
        return file
    if column is None:
        return f"{file}:{line}"
    return f"{file}:{line}:{column}"


class ConfigFileError(ConfigError, ValueError):
    """A config file cannot be read as a config: syntax error, empty, not a mapping, cycle.

    `line` and `column` are 1-based where known; `excerpt` holds the offending source line
    with a caret under the column (multi-line, for a terminal; `str()` stays one line).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        excerpt: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = _where(file, line, column)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.line = line
        self.column = column
        self.excerpt = excerpt
        self.reason = message


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """A config file (given directly, or named in `defaults:`) does not exist."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        referenced_from: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.filename = file
        self.referenced_from = referenced_from


class OverrideError(ConfigError, ValueError):
    """An override is malformed, is a sweep, or targets a key it may not (typo, `+` on an
    existing key, `~` on a missing one)."""

    def __init__(
        self,
        message: str,
        *,
        override: str,
        key: str | None = None,
        suggestion: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.override = override
        self.key = key
        self.suggestion = suggestion


class InterpolationError(ConfigError, ValueError):
    """An interpolation (`${a.b}`, `${oc.env:X}`) cannot be resolved."""

    def __init__(
        self,
        message: str,
        *,
        key_path: str,
        expression: str | None = None,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.key_path = key_path
        self.expression = expression
        self.file = file
        self.line = line


class ResolverError(ConfigError, ValueError):
    """A resolver cannot be registered (name taken by another function, bad name)."""

    def __init__(self, message: str, *, resolver: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.resolver = resolver


class ConfigProblem:
    """One problem found while validating a config: what, at which key path, from where.

    A plain class rather than a dataclass: this module is imported by every kit package
    at start-up, and `dataclasses` alone costs more than the rest of it.
    """

    __slots__ = ("file", "line", "message", "path")

    def __init__(
        self, path: str, message: str, file: str | None = None, line: int | None = None
    ) -> None:
        self.path = path
        self.message = message
        self.file = file
        self.line = line

    def _key(self) -> tuple[str, str, str | None, int | None]:
        return (self.path, self.message, self.file, self.line)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigProblem) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"ConfigProblem(path={self.path!r}, message={self.message!r}, "
            f"file={self.file!r}, line={self.line!r})"
        )

    def __str__(self) -> str:
        where = _where(self.file, self.line)
        path = self.path or "<root>"
        return f"{self.message} @ {path} ({where})" if where else f"{self.message} @ {path}"


class ConfigValidationError(ConfigError, ValueError):
    """A config does not match its typed schema; `problems` lists EVERY problem found."""

    def __init__(
        self,
        problems: Sequence[ConfigProblem],
        *,
        schema: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problems = list(problems)
        self.schema = schema
        count = len(self.problems)
        head = f"{count} config problem{'s' if count != 1 else ''}"
        if schema:
            head += f" for {schema}"
        body = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{head}: {body}", hint=hint)


class ProvenanceError(ConfigError, ValueError):
    """A provenance record cannot be read, or a rerun cannot recompose from it."""

    def __init__(self, message: str, *, file: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.file = file
