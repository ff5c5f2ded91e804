"""Packed SFT Parquet (docs/FORMATS.md section 5): data prep's writer and the stages' reader.

One row per packed bin of at most `pack_size` tokens, three list columns:

- `input_ids` (list<int32>): the bin's tokens, conversations back to back;
- `loss_mask` (list<uint8>): 1 on tokens the model learns (assistant turns and the EOD after
  each conversation), same length as `input_ids`;
- `seq_start_id` (list<int32>): the offset of each packed conversation in the row (first 0).

A data prep shard writes `SPLIT/KEY.parquet`; the merge concatenates them in shard order into
one file per split (`SFT_SPLIT_FILES`) listed by `blend.json`. Files are written with fixed
settings (zstd, no dictionary, no statistics), so the same table gives the same bytes. The
reader keeps the columns as flat arrays plus row offsets: no per-row Python objects.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kit_config import atomic_writer
from nano3.formats.errors import FormatError

__all__ = ["PackedRows", "SFT_COLUMNS", "SFT_SPLIT_FILES", "concat_packed_parquet",
           "read_packed_rows", "write_packed_parquet"]

SFT_COLUMNS = ("input_ids", "loss_mask", "seq_start_id")
#: Split -> the merged file's name in the artifact directory.
SFT_SPLIT_FILES = {"train": "training.parquet", "valid": "validation.parquet",
                   "test": "test.parquet"}
_WRITE_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": False,
                                  "write_statistics": False}
Seq = tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]


def _packed_table(seqs: Sequence[Seq], bins: Sequence[npt.NDArray[np.int64]]) -> Any:
    import pyarrow as pa

    ids, masks, starts, offsets, start_offsets = [], [], [], [0], [0]
    for b in bins:
        pos = 0
        for i in b.tolist():
            tok, mask = seqs[i]
            ids.append(tok)
            masks.append(mask)
            starts.append(pos)
            pos += len(tok)
        offsets.append(offsets[-1] + pos)
        start_offsets.append(start_offsets[-1] + len(b))
    flat_ids = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
    flat_mask = np.concatenate(masks).astype(np.uint8) if masks else np.zeros(0, np.uint8)
    off = pa.array(np.asarray(offsets, dtype=np.int32))
    soff = pa.array(np.asarray(start_offsets, dtype=np.int32))
    return pa.table({
        "input_ids": pa.ListArray.from_arrays(off, pa.array(flat_ids, pa.int32())),
        "loss_mask": pa.ListArray.from_arrays(off, pa.array(flat_mask, pa.uint8())),
        "seq_start_id": pa.ListArray.from_arrays(soff, pa.array(np.asarray(starts, np.int32))),
    })


def write_packed_parquet(path: Path, seqs: Sequence[Seq],
                         bins: Sequence[npt.NDArray[np.int64]]) -> None:
    """Write `(ids, mask)` sequences packed into `bins` (index lists), one row per bin."""
    import pyarrow.parquet as pq

    with atomic_writer(path) as fh:
        pq.write_table(_packed_table(seqs, bins), fh, **_WRITE_OPTIONS)


def concat_packed_parquet(parts: Sequence[Path], dest: Path) -> None:
    """Concatenate packed files in order into `dest` (one part in memory at a time)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(parts[0])
    with atomic_writer(dest) as fh, pq.ParquetWriter(fh, schema, **_WRITE_OPTIONS) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part))


@dataclass
class PackedRows:
    """All rows of some packed files as flat value arrays plus row offsets."""

    ids: npt.NDArray[np.int64]
    mask: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    starts: list[npt.NDArray[np.int64]]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8],
                                   npt.NDArray[np.int64]]:
        """Row `i`'s ids, loss mask and conversation starts."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.ids[lo:hi], self.mask[lo:hi], self.starts[i]


def read_packed_rows(files: Sequence[Path | str]) -> PackedRows:
    """Read the three columns of every file, checking columns, lengths and ids."""
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
            raise FormatError(str(f), f"not a readable Parquet file ({exc})") from exc
        missing = [c for c in SFT_COLUMNS if c not in table.column_names]
        if missing:
            raise FormatError(str(f), f"missing column(s) {', '.join(missing)}",
                              hint="packed SFT Parquet has input_ids, loss_mask, seq_start_id "
                                   "(write it with nano3 data prep sft)")
        ids_col = table.column("input_ids").combine_chunks()
        mask_col = table.column("loss_mask").combine_chunks()
        id_len = np.asarray(ids_col.value_lengths(), np.int64)
        mask_len = np.asarray(mask_col.value_lengths(), np.int64)
        bad = np.nonzero(id_len != mask_len)[0]
        if len(bad):
            raise FormatError(str(f), f"row {int(bad[0])}: {id_len[bad[0]]} tokens "
                              f"({mask_len[bad[0]]} mask bits): input_ids and loss_mask "
                              "lengths differ")
        ids_parts.append(np.asarray(ids_col.flatten(), np.int64))
        mask_parts.append(np.asarray(mask_col.flatten(), np.uint8))
        lengths.append(id_len)
        starts.extend(np.asarray(s if s is not None else [0], np.int64)
                      for s in table.column("seq_start_id").to_pylist())
    where = ",".join(map(str, files))
    if not lengths or not sum(len(n) for n in lengths):
        raise FormatError(where, "no rows", hint="check the SFT data artifact")
    ids = np.concatenate(ids_parts)
    if ids.size and ids.min() < 0:
        raise FormatError(where, "negative token id in input_ids")
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
    return PackedRows(ids, np.concatenate(mask_parts), offsets, starts)
