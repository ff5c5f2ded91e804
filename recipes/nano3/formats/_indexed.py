"""Megatron indexed dataset (`PREFIX.bin` / `PREFIX.idx`, FORMATS.md section 2).

Byte-compatible with megatron-core's `IndexedDatasetBuilder` / `IndexedDataset`. The writer
takes whole batches of documents as numpy arrays (one `write` per batch instead of one builder
call per document: this is where we beat Megatron's preprocess loop) and writes both files
under temp names, renamed only when complete, so a killed run never leaves a half-written
shard under its final name. The reader memory-maps the tokens, so a shard of any size costs
only the pages a batch touches.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from kit_config import atomic_writer
from nano3.formats.errors import FormatError

__all__ = ["DTYPE_CODES", "IndexFile", "IndexedReader", "IndexedWriter", "read_index"]

_MAGIC = b"MMIDIDX\x00\x00"
_VERSION = 1
# magic, version, dtype code, sequence count, document-index length; little-endian, unpadded.
_HEADER = struct.Struct("<9sQBQQ")
DTYPE_CODES: dict[type[np.generic], int] = {
    np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5,
    np.float64: 6, np.float32: 7, np.uint16: 8,
}
_CODE_DTYPES = {code: np.dtype(t) for t, code in DTYPE_CODES.items()}
# Keyed by np.dtype so that np.uint16, "uint16" and np.dtype("<u2") all find their code.
_DTYPE_CODES = {dt: code for code, dt in _CODE_DTYPES.items()}
_REWRITE = "re-run data prep, or fix the blend's path prefix"


@dataclass(frozen=True)
class IndexFile:
    """What `PREFIX.idx` says: token dtype, per-sequence lengths and byte offsets, documents."""

    version: int
    dtype: np.dtype[Any]
    lengths: npt.NDArray[np.int32]
    pointers: npt.NDArray[np.int64]
    doc_idx: npt.NDArray[np.int64]

    @property
    def num_tokens(self) -> int:
        """Tokens of all sequences together (what `PREFIX.bin` must hold)."""
        return int(self.lengths.sum(dtype=np.int64))


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FormatError(str(path), "file is missing", hint=_REWRITE)
    return path


def read_index(prefix: str | os.PathLike[str]) -> IndexFile:
    """Parse and check `PREFIX.idx` (magic, version, dtype code, length of every array)."""
    path = _existing(Path(f"{os.fspath(prefix)}.idx"))
    raw = path.read_bytes()
    if len(raw) < _HEADER.size or raw[:len(_MAGIC)] != _MAGIC:
        raise FormatError(str(path), "not a Megatron MMIDIDX index (bad magic)", hint=_REWRITE)
    _, version, code, n_seq, n_doc = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise FormatError(str(path), f"index version {version}, expected {_VERSION}",
                          hint=_REWRITE)
    if code not in _CODE_DTYPES:
        raise FormatError(str(path), f"unknown dtype code {code}", hint=_REWRITE)
    need = _HEADER.size + n_seq * (4 + 8) + n_doc * 8
    if len(raw) < need:
        raise FormatError(str(path), f"index truncated: {len(raw)} bytes, {need} needed for "
                          f"{n_seq} sequences", hint=_REWRITE)
    lengths = np.frombuffer(raw, "<i4", n_seq, _HEADER.size)
    pointers = np.frombuffer(raw, "<i8", n_seq, _HEADER.size + n_seq * 4)
    doc_idx = np.frombuffer(raw, "<i8", n_doc, _HEADER.size + n_seq * 12)
    return IndexFile(version, _CODE_DTYPES[code], lengths, pointers, doc_idx)


class IndexedReader:
    """One indexed dataset, tokens memory-mapped: sequences by number, or the token stream."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        self.prefix = os.fspath(prefix)
        self.index = read_index(prefix)
        self.dtype = self.index.dtype
        bin_path = _existing(Path(f"{self.prefix}.bin"))
        self.num_tokens = self.index.num_tokens
        expected, size = self.num_tokens * self.dtype.itemsize, bin_path.stat().st_size
        if size != expected:
            raise FormatError(str(bin_path), f"{size} bytes but the index describes {expected}",
                              hint="the .bin and .idx do not belong together; " + _REWRITE)
        # numpy cannot memory-map an empty file.
        self.tokens: npt.NDArray[Any] = (
            np.memmap(bin_path, dtype=self.dtype, mode="r") if self.num_tokens
            else np.zeros(0, self.dtype))

    def __len__(self) -> int:
        return len(self.index.lengths)

    def __getitem__(self, i: int) -> npt.NDArray[Any]:
        """The tokens of sequence `i` (one document in the pretraining layout)."""
        start = int(self.index.pointers[i]) // self.dtype.itemsize
        return np.asarray(self.tokens[start:start + int(self.index.lengths[i])])

    def window(self, start: int, length: int) -> npt.NDArray[np.int64]:
        """`length` tokens from token `start` as int64 (the stream, ignoring documents)."""
        return np.asarray(self.tokens[start:start + length], dtype=np.int64)


class IndexedWriter:
    """Streams documents into `PREFIX.bin` and writes `PREFIX.idx` on `close()`.

    Each document is one sequence (Megatron pretraining layout): document indices are
    0..n. Memory holds only the per-document lengths (4 bytes each), never the tokens.
    """

    def __init__(self, prefix: str | os.PathLike[str], dtype: npt.DTypeLike) -> None:
        self.prefix = os.fspath(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _DTYPE_CODES:
            raise FormatError(self.prefix, f"no Megatron dtype code for {self.dtype}",
                              hint="write tokens as uint16 or int32")
        self._code = _DTYPE_CODES[self.dtype]
        self._tmp_bin = f"{self.prefix}.bin.tmp"
        self._bin = open(self._tmp_bin, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._lengths: list[npt.NDArray[np.int32]] = []
        self.num_tokens = 0
        self.num_docs = 0

    def add_batch(self, flat_tokens: npt.NDArray[Any], lengths: npt.NDArray[Any]) -> None:
        """Append documents given as one flat token array and each document's length."""
        if len(lengths) == 0:
            return
        # `.data` hands the array's buffer to write(): no `tobytes()` copy of the batch.
        self._bin.write(np.ascontiguousarray(flat_tokens, dtype=self.dtype).data)
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
        with atomic_writer(f"{self.prefix}.idx") as f:
            f.write(_HEADER.pack(_MAGIC, _VERSION, self._code, len(lengths), len(doc_idx)))
            f.write(lengths.astype("<i4").tobytes())
            f.write(pointers.astype("<i8").tobytes())
            f.write(doc_idx.astype("<i8").tobytes())
            Path(self._tmp_bin).replace(f"{self.prefix}.bin")  # the index appears last, on exit

    def abort(self) -> None:
        """Close and delete the temp files (the final names were never touched)."""
        self._bin.close()
        Path(self._tmp_bin).unlink(missing_ok=True)

    def __enter__(self) -> IndexedWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if et is None:
            self.close()
        else:
            self.abort()
