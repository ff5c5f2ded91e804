"""Packed SFT data for the local trainer: discovery of an artifact's files, masked batches.

The Parquet layout and its reader are `nano3.formats` (FORMATS.md section 5). The label at
position t is token t+1; it counts iff its loss-mask bit is 1 and it does not start a new
conversation. Attention never crosses conversations (block-diagonal causal mask), so packing
changes nothing that a model sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kit_artifacts import SFTDataArtifact
from nano3.formats import BLEND_FILENAME, FormatError, PackedRows, read_blend, read_packed_rows
from nano3.stages.errors import DataFormatError

__all__ = ["SFTBatch", "find_sft_splits", "load_packed_rows", "sft_batch"]

_SPLIT_KEYS = {"train": ("train", "training"), "valid": ("valid", "validation", "val"),
               "test": ("test",)}


@dataclass
class SFTBatch:
    """Right-padded model inputs with labels, label weights and segment ids."""

    inputs: npt.NDArray[np.int64]      # (B, T)
    labels: npt.NDArray[np.int64]      # (B, T)
    weights: npt.NDArray[np.float32]   # (B, T): 1 where the label is an assistant token
    segments: npt.NDArray[np.int64]    # (B, T): conversation index, -1 on padding


def sft_batch(rows: PackedRows, idx: list[int], length: int) -> SFTBatch:
    """A batch of rows `idx`, each cut/padded to `length` + 1 tokens."""
    b = len(idx)
    inputs = np.zeros((b, length), np.int64)
    labels = np.zeros((b, length), np.int64)
    weights = np.zeros((b, length), np.float32)
    segments = np.full((b, length), -1, np.int64)
    for r, i in enumerate(idx):
        row_ids, row_mask, starts = rows.row(i)
        n = min(len(row_ids), length + 1)
        ids, mask = row_ids[:n], row_mask[:n]
        seg = np.zeros(n, np.int64)
        starts = starts[(starts > 0) & (starts < n)]
        seg[starts] = 1
        seg = np.cumsum(seg)
        new_conv = np.zeros(n, bool)
        new_conv[starts] = True
        inputs[r, :n - 1] = ids[:-1]
        labels[r, :n - 1] = ids[1:]
        weights[r, :n - 1] = (mask[1:] > 0) & ~new_conv[1:]
        segments[r, :n - 1] = seg[:-1]
    return SFTBatch(inputs, labels, weights, segments)


def _parquet_files(base: Path, named: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in named:
        p = base / item  # an absolute `item` stays itself
        if p.is_dir():
            out.extend(sorted(p.glob("*.parquet")))
        elif p.is_file():
            out.append(p)
        elif p.with_name(p.name + ".parquet").is_file():
            out.append(p.with_name(p.name + ".parquet"))
        else:
            raise DataFormatError(str(p), "listed by the SFT data but missing")
    return out


def find_sft_splits(data: SFTDataArtifact) -> dict[str, list[Path]]:
    """Map train/valid/test to the Parquet files of an SFT data artifact (its blend.json)."""
    path = Path(data.path)
    if path.is_file() and path.suffix == ".parquet":
        return {"train": [path], "valid": [], "test": []}
    if not path.exists():
        raise DataFormatError(data.path, "no such file or directory",
                              hint="point `data` at an SFTDataArtifact (${art:NAME})")
    base = path if path.is_dir() else path.parent
    blend_file = path if path.is_file() else Path(data.blend_path or base / BLEND_FILENAME)
    if blend_file.is_file():
        try:
            blend = read_blend(blend_file)
        except FormatError as exc:
            raise DataFormatError.from_format(exc) from exc
        found = {s: _parquet_files(base, [e.prefix for e in entries or []])
                 for s, entries in blend.items()}
    else:  # an artifact without a blend: its recorded split paths, else files named by split
        legacy = {"train": data.training_path, "valid": data.validation_path,
                  "test": data.test_path}
        found = {s: _parquet_files(base, [named] if named else []) for s, named in legacy.items()}
        if not found["train"]:
            found = {s: sorted({p for k in keys for p in base.rglob(f"*{k}*.parquet")})
                     for s, keys in _SPLIT_KEYS.items()}
    if not found["train"]:
        raise DataFormatError(data.path, "no training Parquet file found",
                              hint="re-run SFT data prep; it writes packed Parquet + blend.json")
    return found


def load_packed_rows(files: list[Path]) -> PackedRows:
    """`nano3.formats.read_packed_rows`, its errors as `DataFormatError`."""
    try:
        return read_packed_rows(files)
    except FormatError as exc:
        raise DataFormatError.from_format(exc) from exc
