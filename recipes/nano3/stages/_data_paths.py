"""Where a data artifact's files are: its `metadata.json` and the blend JSON it names.

The formats themselves are `nano3.formats`; this module finds the files and re-raises the
format readers' errors as `DataFormatError`, the class a stage's caller catches.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nano3.formats import BLEND_FILENAME, Blend, FormatError, read_blend
from nano3.stages.errors import DataFormatError

__all__ = ["find_blend_file", "load_blend", "read_data_metadata"]


def read_data_metadata(path: Path) -> dict[str, Any]:
    """Return the artifact `metadata.json` next to a data path, or {} when there is none."""
    directory = path if path.is_dir() else path.parent
    meta = directory / "metadata.json"
    if not meta.is_file():
        return {}
    try:
        loaded = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise DataFormatError(str(meta), f"unreadable metadata.json ({exc})") from exc
    return loaded if isinstance(loaded, dict) else {}


def find_blend_file(data: str) -> Path:
    """Locate the blend JSON of a pretrain data artifact (its directory, or the file itself)."""
    path = Path(data)
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataFormatError(data, "no such file or directory",
                              hint="point `data` at a PretrainBlendsArtifact (${art:NAME})")
    meta = read_data_metadata(path)
    candidates = [Path(str(meta["blend_path"]))] if meta.get("blend_path") else []
    candidates.append(path / BLEND_FILENAME)
    for c in candidates:
        if c.is_file():
            return c
    raise DataFormatError(data, f"no {BLEND_FILENAME} in the data directory",
                          hint=f"re-run data prep; its artifact writes {BLEND_FILENAME}")


def load_blend(data: str) -> tuple[Path, Blend]:
    """The blend file of a pretrain data artifact and its splits."""
    blend_file = find_blend_file(data)
    try:
        return blend_file, read_blend(blend_file)
    except FormatError as exc:
        raise DataFormatError.from_format(exc) from exc
