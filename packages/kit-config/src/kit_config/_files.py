"""Whole-file writes that are never half-done, the one config digest, and plain JSON data.

A reader (another rank, a rerun, `nemotron runs show`) sees either the old file or the new
one: data goes to a temp file in the same directory, then `os.replace` swaps it in. A
failed write removes its temp file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "config_digest",
    "plain_data",
]


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temp file beside `path`; on a clean exit it replaces `path`.

    For writers that stream (concatenating shards, `pyarrow.parquet.write_table(table, fh)`);
    whole values go through `atomic_write_bytes/text/json`. Parents are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)  # noqa: PTH105 - the atomic rename is the point
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` (parents created) through a temp file + `os.replace`."""
    with atomic_writer(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 `text` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, *, sort_keys: bool = False, indent: int = 2
) -> Path:
    """Write `obj` as indented JSON plus a newline, atomically; non-JSON values as `str`."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, default=str) + "\n"
    return atomic_write_text(path, text)


def plain_data(obj: Any) -> Any:
    """JSON-ready data from attrs classes, dataclasses and containers (anything else as text).

    attrs and dataclass objects become dicts of their fields, mapping keys strings, every
    other collection a list; a value JSON cannot hold (a path, a date) becomes its `str`.
    """
    import attrs

    if attrs.has(type(obj)):
        return plain_data(attrs.asdict(obj, recurse=False))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return plain_data({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, Mapping):
        return {str(k): plain_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [plain_data(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def config_digest(config: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of `config` (key order does not matter): the
    kit's one digest format, so provenance, run and launch records can be compared."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
