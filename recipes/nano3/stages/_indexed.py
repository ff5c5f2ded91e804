"""Readers for Megatron indexed datasets (`.bin`/`.idx`) and per-split blend JSON.

FORMATS.md sections 2 and 3. Tokens are memory-mapped, never read whole, so a shard of any
size costs only the pages a batch touches.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nano3.stages.errors import DataFormatError

__all__ = ["BlendEntry", "IndexedTokens", "find_blend_file", "read_blend", "read_data_metadata"]

_MAGIC = b"MMIDIDX\x00\x00"
_DTYPES: dict[int, type[np.generic]] = {
    1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64,
    6: np.float64, 7: np.float32, 8: np.uint16,
}
_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class BlendEntry:
    """One dataset of a split: its sampling weight and its path prefix (no extension)."""

    weight: float
    prefix: str


class IndexedTokens:
    """The token stream of one indexed dataset: every document back to back, memory-mapped."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        idx_path, bin_path = Path(prefix + ".idx"), Path(prefix + ".bin")
        for p in (idx_path, bin_path):
            if not p.is_file():
                raise DataFormatError(str(p), "file is missing",
                                      hint="re-run data prep or fix the blend's path prefix")
        raw = idx_path.read_bytes()
        header = 9 + 8 + 1 + 8 + 8
        if len(raw) < header or raw[:9] != _MAGIC:
            raise DataFormatError(str(idx_path), "not a Megatron MMIDIDX index (bad magic)")
        (version,) = struct.unpack_from("<Q", raw, 9)
        (code,) = struct.unpack_from("<B", raw, 17)
        n_seq, n_doc = struct.unpack_from("<QQ", raw, 18)
        if version != 1:
            raise DataFormatError(str(idx_path), f"index version {version}, expected 1")
        if code not in _DTYPES:
            raise DataFormatError(str(idx_path), f"unknown dtype code {code}")
        need = header + n_seq * 4 + n_seq * 8 + n_doc * 8
        if len(raw) < need:
            raise DataFormatError(str(idx_path), f"index truncated: {len(raw)} bytes, "
                                  f"{need} needed for {n_seq} sequences")
        self.dtype = np.dtype(_DTYPES[code])
        self.lengths = np.frombuffer(raw, np.int32, n_seq, header)
        self.pointers = np.frombuffer(raw, np.int64, n_seq, header + n_seq * 4)
        expected = int(self.lengths.astype(np.int64).sum()) * self.dtype.itemsize
        size = bin_path.stat().st_size
        if size != expected:
            raise DataFormatError(str(bin_path), f"{size} bytes but the index describes "
                                  f"{expected}", hint="the .bin and .idx do not belong together")
        self.num_tokens = expected // self.dtype.itemsize
        self.tokens: npt.NDArray[Any] = (
            np.memmap(bin_path, dtype=self.dtype, mode="r") if self.num_tokens
            else np.zeros(0, self.dtype)
        )

    def window(self, start: int, length: int) -> npt.NDArray[np.int64]:
        """Return `length` tokens from `start` as int64 (the stream, ignoring documents)."""
        return np.asarray(self.tokens[start:start + length], dtype=np.int64)


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
    candidates.append(path / "blend.json")
    for c in candidates:
        if c.is_file():
            return c
    raise DataFormatError(data, "no blend.json in the data directory",
                          hint="re-run data prep; its artifact writes blend.json")


def _entries(blend_file: Path, split: str, value: Any) -> list[BlendEntry]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataFormatError(str(blend_file), f"split {split!r} is not a list")
    pairs: list[tuple[Any, Any]]
    if value and all(isinstance(v, list | tuple) for v in value):  # nested legacy form
        pairs = [(v[0], v[1]) if len(v) == 2 else (None, None) for v in value]
    elif len(value) % 2 == 0:
        pairs = list(zip(value[0::2], value[1::2], strict=True))
    elif all(isinstance(v, str) for v in value):  # bare prefixes, equal weights
        pairs = [("1.0", v) for v in value]
    else:
        raise DataFormatError(str(blend_file), f"split {split!r} is not a flat "
                              "[weight, prefix, ...] list")
    out: list[BlendEntry] = []
    for i, (weight, prefix) in enumerate(pairs):
        try:
            w = float(weight)
        except (TypeError, ValueError):
            w = -1.0
        if not isinstance(prefix, str) or not prefix or w <= 0:
            raise DataFormatError(str(blend_file), f"split {split!r} entry {i}: need a "
                                  f"positive weight and a path prefix, got {weight!r}, {prefix!r}")
        if not Path(prefix).is_absolute():
            prefix = str(blend_file.parent / prefix)
        out.append(BlendEntry(w, prefix))
    return out


def read_blend(blend_file: Path) -> dict[str, list[BlendEntry]]:
    """Parse a blend JSON (flat form; the nested and single-blend legacy forms are read too)."""
    try:
        raw = json.loads(blend_file.read_text())
    except (OSError, ValueError) as exc:
        raise DataFormatError(str(blend_file), f"not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataFormatError(str(blend_file), "top level must be an object")
    if "data_paths" in raw:  # legacy single blend: everything is train
        return {"train": _entries(blend_file, "train", raw["data_paths"]), "valid": [],
                "test": []}
    missing = [s for s in _SPLITS if s not in raw]
    if missing:
        raise DataFormatError(str(blend_file), f"missing split key(s) {', '.join(missing)}",
                              hint="a blend has keys train, valid and test")
    return {s: _entries(blend_file, s, raw[s]) for s in _SPLITS}
