"""The errors of nano3's on-disk formats and tokenizer files, rooted in `KitError`.

`FormatError` is a `ValueError` that carries the offending file as `path` and what is wrong
with it as `detail`; `str(error)` is one line: what, where, how to fix. The training stages'
`DataFormatError` derives from it, so one `except FormatError` covers both packages.
"""
from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from kit_config.errors import KitError

__all__ = ["FormatError", "TokenizerError"]


class FormatError(KitError, ValueError):
    """A file is missing or not in the format FORMATS.md describes (indexed dataset, blend)."""

    # A subclass words its message for its callers (a training stage says "bad training data").
    template: ClassVar[str] = "{path}: {detail}"

    def __init__(self, path: str, detail: str, *, hint: str | None = None) -> None:
        self.path = path
        self.detail = detail
        super().__init__(self.template.format(path=path, detail=detail), hint=hint)

    def __reduce__(self) -> tuple[Any, ...]:
        # Data prep writes shards in worker processes: an error raised there must reach the
        # parent intact, and the default pickling would call __init__ with the message only.
        return (partial(type(self), hint=self.hint), (self.path, self.detail))


class TokenizerError(FormatError):
    """A tokenizer spec (`path`) names nothing loadable, or lacks what nano3 needs."""

    template = "tokenizer {path!r}: {detail}"

    def __init__(self, source: str, detail: str, *, hint: str | None = None) -> None:
        super().__init__(source, detail, hint=hint or (
            "set the tokenizer to gpt2, bytes, a tokenizer.json (or its directory), "
            "a tiktoken rank file or hf://ID"))
