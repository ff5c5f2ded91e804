"""Where a data artifact's blend is (pretrain shards or packed SFT Parquet): the `blend_path`
it records, else `blend.json` in its folder.

The formats themselves are `nano3.formats`; this module finds the file and re-raises the
format readers' errors as `DataFormatError`, the class a stage's caller catches. The
artifact arrives typed (`cfg.data`), so nothing here reads `metadata.json`.
"""
from __future__ import annotations

from pathlib import Path

from kit_artifacts import PretrainBlendsArtifact, SFTDataArtifact
from nano3.formats import BLEND_FILENAME, Blend, FormatError, read_blend
from nano3.stages.errors import DataFormatError

__all__ = ["find_blend_file", "load_blend"]


def find_blend_file(data: PretrainBlendsArtifact | SFTDataArtifact) -> Path:
    """The blend JSON of a pretrain or SFT data artifact."""
    path = Path(data.path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataFormatError(data.path, "no such file or directory",
                              hint="point `data` at a data prep artifact (${art:NAME})")
    candidates = [Path(data.blend_path)] if data.blend_path else []
    candidates.append(path / BLEND_FILENAME)
    for c in candidates:
        if c.is_file():
            return c
    raise DataFormatError(data.path, f"no {BLEND_FILENAME} in the data directory",
                          hint=f"re-run data prep; its artifact writes {BLEND_FILENAME}")


def load_blend(data: PretrainBlendsArtifact | SFTDataArtifact) -> tuple[Path, Blend]:
    """The blend file of a data artifact and its splits."""
    blend_file = find_blend_file(data)
    try:
        return blend_file, read_blend(blend_file)
    except FormatError as exc:
        raise DataFormatError.from_format(exc) from exc
