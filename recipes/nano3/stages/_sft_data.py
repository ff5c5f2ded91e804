"""Packed SFT Parquet (FORMATS.md section 5): discovery, loading, and masked batches.

Each row is one packed bin: `input_ids`, `loss_mask` (1 on assistant tokens) and
`seq_start_id` (where each packed conversation starts). The label at position t is token
t+1; it counts iff its loss-mask bit is 1 and it does not start a new conversation. Attention
never crosses conversations (block-diagonal causal mask), so packing changes nothing that a
model sees. Columns stay as flat arrays plus offsets: no per-row Python objects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kit_artifacts import SFTDataArtifact
from nano3.formats import BLEND_FILENAME
from nano3.stages.errors import DataFormatError

__all__ = ["PackedRows", "SFTBatch", "find_sft_splits", "load_packed_rows"]

_COLUMNS = ("input_ids", "loss_mask", "seq_start_id")
_SPLIT_KEYS = {"train": ("train", "training"), "valid": ("valid", "validation", "val"),
               "test": ("test",)}


@dataclass
class SFTBatch:
    """Right-padded model inputs with labels, label weights and segment ids."""

    inputs: npt.NDArray[np.int64]      # (B, T)
    labels: npt.NDArray[np.int64]      # (B, T)
    weights: npt.NDArray[np.float32]   # (B, T): 1 where the label is an assistant token
    segments: npt.NDArray[np.int64]    # (B, T): conversation index, -1 on padding


@dataclass
class PackedRows:
    """All rows of some Parquet files as flat value arrays plus row offsets."""

    ids: npt.NDArray[np.int64]
    mask: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    starts: list[npt.NDArray[np.int64]]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row_length(self, i: int) -> int:
        """Number of tokens in row `i`."""
        return int(self.offsets[i + 1] - self.offsets[i])

    def batch(self, rows: list[int], length: int) -> SFTBatch:
        """Build a batch of the given rows, each cut/padded to `length` + 1 tokens."""
        b = len(rows)
        inputs = np.zeros((b, length), np.int64)
        labels = np.zeros((b, length), np.int64)
        weights = np.zeros((b, length), np.float32)
        segments = np.full((b, length), -1, np.int64)
        for r, i in enumerate(rows):
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            n = min(hi - lo, length + 1)
            ids, mask = self.ids[lo:lo + n], self.mask[lo:lo + n]
            seg = np.zeros(n, np.int64)
            starts = self.starts[i]
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


def _as_paths(base: Path, value: Any) -> list[Path]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else [value]
    # The flat blend form alternates weights and paths: keep the paths.
    if len(items) % 2 == 0 and all(_is_number(w) for w in items[0::2]):
        items = items[1::2]
    out: list[Path] = []
    for item in items:
        p = Path(str(item))
        p = p if p.is_absolute() else base / p
        if p.is_dir():
            out.extend(sorted(p.glob("*.parquet")))
        elif p.is_file():
            out.append(p)
        elif p.with_name(p.name + ".parquet").is_file():
            out.append(p.with_name(p.name + ".parquet"))
        else:
            raise DataFormatError(str(p), "listed by the SFT data but missing")
    return out


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool)


def find_sft_splits(data: SFTDataArtifact) -> dict[str, list[Path]]:
    """Map train/valid/test to the Parquet files of an SFT data artifact."""
    path = Path(data.path)
    if path.is_file() and path.suffix == ".parquet":
        return {"train": [path], "valid": [], "test": []}
    if not path.exists():
        raise DataFormatError(data.path, "no such file or directory",
                              hint="point `data` at an SFTDataArtifact (${art:NAME})")
    base = path if path.is_dir() else path.parent
    blend_file = path if path.is_file() else None
    if blend_file is None and data.blend_path:
        blend_file = Path(data.blend_path)
    if blend_file is None and (base / BLEND_FILENAME).is_file():
        blend_file = base / BLEND_FILENAME
    found: dict[str, list[Path]] = {"train": [], "valid": [], "test": []}
    if blend_file is not None and blend_file.is_file():
        try:
            blend = json.loads(blend_file.read_text())
        except (OSError, ValueError) as exc:
            raise DataFormatError(str(blend_file), f"not valid JSON ({exc})") from exc
        for split, keys in _SPLIT_KEYS.items():
            for key in keys:
                if isinstance(blend, dict) and key in blend:
                    found[split] = _as_paths(blend_file.parent, blend[key])
                    break
    else:
        legacy = {"train": data.training_path, "valid": data.validation_path,
                  "test": data.test_path}
        for split, named in legacy.items():
            found[split] = _as_paths(base, named)
        if not found["train"]:
            for split, keys in _SPLIT_KEYS.items():
                found[split] = sorted({p for k in keys for p in base.rglob(f"*{k}*.parquet")})
    if not found["train"]:
        raise DataFormatError(data.path, "no training Parquet file found",
                              hint="re-run SFT data prep; it writes packed Parquet + blend.json")
    return found


def load_packed_rows(files: list[Path]) -> PackedRows:
    """Read the three packed columns of every file, validating types and lengths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids_parts: list[npt.NDArray[np.int64]] = []
    mask_parts: list[npt.NDArray[np.uint8]] = []
    lengths: list[npt.NDArray[np.int64]] = []
    starts: list[npt.NDArray[np.int64]] = []
    for f in files:
        try:
            table = pq.read_table(f)
        except (OSError, pa.ArrowException) as exc:
            raise DataFormatError(str(f), f"not a readable Parquet file ({exc})") from exc
        missing = [c for c in _COLUMNS if c not in table.column_names]
        if missing:
            raise DataFormatError(str(f), f"missing column(s) {', '.join(missing)}",
                                  hint="packed SFT Parquet has input_ids, loss_mask, seq_start_id")
        ids_col = table.column("input_ids").combine_chunks()
        mask_col = table.column("loss_mask").combine_chunks()
        id_len = np.asarray(ids_col.value_lengths(), np.int64)
        mask_len = np.asarray(mask_col.value_lengths(), np.int64)
        bad = np.nonzero(id_len != mask_len)[0]
        if len(bad):
            raise DataFormatError(str(f), f"row {int(bad[0])}: input_ids and loss_mask "
                                  f"lengths differ ({id_len[bad[0]]} vs {mask_len[bad[0]]})")
        ids_parts.append(np.asarray(ids_col.flatten(), np.int64))
        mask_parts.append(np.asarray(mask_col.flatten(), np.uint8))
        lengths.append(id_len)
        starts.extend(np.asarray(s if s is not None else [0], np.int64)
                      for s in table.column("seq_start_id").to_pylist())
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
    if len(offsets) < 2:
        raise DataFormatError(",".join(map(str, files)), "no rows")
    if ids.size and ids.min() < 0:
        raise DataFormatError(",".join(map(str, files)), "negative token id in input_ids")
    return PackedRows(ids, np.concatenate(mask_parts), offsets, starts)
