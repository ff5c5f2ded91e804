"""Megatron indexed dataset (`.bin` / `.idx`) writer and reader, byte-compatible with
megatron-core's `IndexedDatasetBuilder` / `IndexedDataset` (FORMATS.md section 2).

The writer takes whole batches of documents as numpy arrays (one `write` per batch instead of
one builder call per document: this is where we beat Megatron's preprocess loop). Both files
are written to temp names and renamed only when complete, so a killed run never leaves a
half-written shard under its final name.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DTYPE_CODES", "IndexedReader", "IndexedWriter", "read_index"]

_MAGIC = b"MMIDIDX\x00\x00"
DTYPE_CODES: dict[type[Any], int] = {
    np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5,
    np.float64: 6, np.float32: 7, np.uint16: 8,
}
_CODE_DTYPES = {code: dt for dt, code in DTYPE_CODES.items()}


class IndexedWriter:
    """Streams documents into `PREFIX.bin` and writes `PREFIX.idx` on `close()`.

    Each document is one sequence (Megatron pretraining layout): document indices are
    0..n. Memory holds only the per-document lengths (4 bytes each), never the tokens.
    """

    def __init__(self, prefix: str | os.PathLike[str], dtype: type[Any]) -> None:
        self.prefix = str(prefix)
        self.dtype = np.dtype(dtype)
        self._code = DTYPE_CODES[dtype]
        self._tmp_bin = f"{self.prefix}.bin.tmp"
        self._bin = open(self._tmp_bin, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._lengths: list[npt.NDArray[np.int32]] = []
        self.num_tokens = 0
        self.num_docs = 0

    def add_batch(self, flat_tokens: npt.NDArray[Any], lengths: npt.NDArray[Any]) -> None:
        """Append documents given as one flat token array and each document's length."""
        if len(lengths) == 0:
            return
        self._bin.write(np.ascontiguousarray(flat_tokens, dtype=self.dtype).tobytes())
        self._lengths.append(np.asarray(lengths, dtype=np.int32))
        self.num_tokens += int(flat_tokens.shape[0])
        self.num_docs += len(lengths)

    def close(self) -> None:
        """Write the index and move both files to their final names."""
        self._bin.close()
        lengths = (np.concatenate(self._lengths) if self._lengths
                   else np.zeros(0, dtype=np.int32))
        pointers = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        doc_idx = np.arange(len(lengths) + 1, dtype=np.int64)
        tmp_idx = f"{self.prefix}.idx.tmp"
        with open(tmp_idx, "wb") as f:
            f.write(_MAGIC)
            f.write(struct.pack("<Q", 1))
            f.write(struct.pack("<B", self._code))
            f.write(struct.pack("<Q", len(lengths)))
            f.write(struct.pack("<Q", len(doc_idx)))
            f.write(lengths.astype("<i4").tobytes())
            f.write(pointers.astype("<i8").tobytes())
            f.write(doc_idx.astype("<i8").tobytes())
        Path(self._tmp_bin).replace(f"{self.prefix}.bin")
        Path(tmp_idx).replace(f"{self.prefix}.idx")

    def abort(self) -> None:
        """Close and delete the temp files (the final names were never touched)."""
        self._bin.close()
        for p in (self._tmp_bin, f"{self.prefix}.idx.tmp"):
            Path(p).unlink(missing_ok=True)

    def __enter__(self) -> IndexedWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if et is None:
            self.close()
        else:
            self.abort()


def read_index(prefix: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse `PREFIX.idx`: dtype, sequence lengths, pointers and document indices."""
    data = Path(f"{prefix}.idx").read_bytes()
    if data[:9] != _MAGIC:
        raise ValueError(f"{prefix}.idx: bad magic {data[:9]!r}")
    version, = struct.unpack_from("<Q", data, 9)
    code, = struct.unpack_from("<B", data, 17)
    n_seq, n_doc = struct.unpack_from("<QQ", data, 18)
    off = 34
    lengths = np.frombuffer(data, dtype="<i4", count=n_seq, offset=off)
    off += 4 * n_seq
    pointers = np.frombuffer(data, dtype="<i8", count=n_seq, offset=off)
    off += 8 * n_seq
    doc_idx = np.frombuffer(data, dtype="<i8", count=n_doc, offset=off)
    return {"version": version, "dtype": _CODE_DTYPES[code], "lengths": lengths,
            "pointers": pointers, "doc_idx": doc_idx}


class IndexedReader:
    """Memory-mapped reader of one indexed dataset (for our tests and tools)."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        self.index = read_index(prefix)
        self.dtype = np.dtype(self.index["dtype"])
        self._bin = np.memmap(f"{prefix}.bin", dtype=self.dtype, mode="r")

    def __len__(self) -> int:
        return len(self.index["lengths"])

    def __getitem__(self, i: int) -> npt.NDArray[Any]:
        start = int(self.index["pointers"][i]) // self.dtype.itemsize
        return np.asarray(self._bin[start:start + int(self.index["lengths"][i])])
