"""Errors of kit-config, and `KitError`, the root of every error the kit raises on purpose.

Every kit package has one `errors` module whose base class derives from `KitError`. Each
concrete error also derives from the builtin it is (a missing file is a `FileNotFoundError`,
a bad value a `ValueError`), so callers can catch either, and each carries its context
(file, line, key path, ...) as attributes. `str(error)` is one readable line saying what is
wrong, where, and how to fix it.
"""
from __future__ import annotations

__all__ = ["ConfigError", "KitError"]


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
