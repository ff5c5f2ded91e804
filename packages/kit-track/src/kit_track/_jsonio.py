"""Small JSON helpers: reading records and append-only JSON lines.

Whole records are written with `kit_config.atomic_write_json` (never half-written). JSON
lines are appended with one `write` of one line each, which is atomic enough for a single
writer per file.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kit_track.errors import RunRecordError

__all__ = ["append_jsonl", "read_json", "read_jsonl"]


def append_jsonl(path: Path, data: Mapping[str, Any]) -> None:
    """Append `data` as one JSON line to `path`."""
    line = json.dumps(data, default=str, separators=(",", ":")) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from `path`; `RunRecordError` when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunRecordError(str(path), exc.msg, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise RunRecordError(str(path), f"expected a JSON object, got {type(data).__name__}")
    return data


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of a JSON-lines file; a missing file yields nothing.

    A torn last line (the writer was killed mid-append) is skipped; a bad line elsewhere
    is an error with its line number.
    """
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                return
            raise RunRecordError(str(path), exc.msg, line=number) from exc
        if not isinstance(item, dict):
            raise RunRecordError(str(path), "expected a JSON object per line", line=number)
        yield item
