"""Blend JSON (Megatron-Bridge `per_split_data_args_path`, FORMATS.md section 3).

We write only the flat form `{"train": ["w", "prefix", ...] | null, "valid": ..., "test": ...}`
(weights as strings, all three keys, `null` for an empty split: Megatron's parser crashes on
`[]` and on a missing key). We read that form, the nested `[[w, prefix], ...]` form the earlier
kit's docs show, bare prefixes (equal weights), the earlier kit's `validation` key, and the
older single blend `{"data_paths": [...], "split": "99990,8,2"}`.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from kit_config import atomic_write_json, did_you_mean
from nano3.formats.errors import FormatError

__all__ = ["BLEND_FILENAME", "Blend", "BlendEntry", "read_blend", "write_blend"]

BLEND_FILENAME = "blend.json"
_SPLITS = ("train", "valid", "test")
_HINT = 'a blend is {"train": ["WEIGHT", "/PATH/PREFIX", ...] | null, "valid": ..., "test": ...}'


class BlendEntry(NamedTuple):
    """One dataset of a split: its sampling weight and its path prefix (no extension)."""

    weight: float
    prefix: str


# An empty split is None, as in the JSON.
Blend = dict[str, list[BlendEntry] | None]
# What `write_blend` takes: (weight, prefix) pairs per split (BlendEntry or plain tuples).
_Pairs = Mapping[str, Sequence[tuple[float, str]] | None]


def _weight_text(where: str, split: str, weight: float, prefix: str) -> str:
    if not (math.isfinite(weight) and weight > 0):
        raise FormatError(where, f"split {split!r}: weight {weight!r} of {prefix} is not "
                          "positive", hint="give every dataset a weight > 0, or leave it out")
    return repr(float(weight))


def write_blend(path: str | os.PathLike[str], blend: _Pairs) -> dict[str, list[str] | None]:
    """Write the flat form atomically, keys in train/valid/test order; return what was written."""
    path = Path(path)
    unknown = sorted(set(blend) - set(_SPLITS))
    if unknown:  # a misspelt split would otherwise be dropped without a word
        raise FormatError(str(path), f"unknown split {unknown[0]!r}", hint=_HINT)
    flat: dict[str, list[str] | None] = {}
    for split in _SPLITS:
        items = [[_weight_text(str(path), split, w, str(p)), str(p)]
                 for w, p in blend.get(split) or []]
        flat[split] = [x for item in items for x in item] or None
    atomic_write_json(path, flat)  # readers never see half a file
    return flat


def _entry(path: Path, split: str, i: int, weight: Any, prefix: Any) -> BlendEntry:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        w = math.nan
    if not isinstance(prefix, str) or not prefix or not (math.isfinite(w) and w > 0):
        raise FormatError(str(path), f"split {split!r} entry {i}: need a positive weight and a "
                          f"path prefix, got {weight!r}, {prefix!r}", hint=_HINT)
    if not Path(prefix).is_absolute():  # relative to the blend, as a moved directory expects
        prefix = str(path.parent / prefix)
    return BlendEntry(w, prefix)


def _entries(path: Path, split: str, value: Any) -> list[BlendEntry] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise FormatError(str(path), f"split {split!r} is a {type(value).__name__}, not a "
                          "list", hint=_HINT)
    pairs: list[tuple[Any, Any]]
    if all(isinstance(v, list) for v in value):  # nested [[weight, prefix], ...]
        pairs = [(v[0], v[1]) if len(v) == 2 else (None, None) for v in value]
    elif len(value) % 2 == 0:
        pairs = list(zip(value[0::2], value[1::2], strict=True))
    elif all(isinstance(v, str) for v in value):  # bare prefixes: equal weights, as Megatron
        pairs = [(1.0, v) for v in value]
    else:
        raise FormatError(str(path), f"split {split!r} is not a flat [weight, prefix, ...] "
                          "list", hint=_HINT)
    return [_entry(path, split, i, w, p) for i, (w, p) in enumerate(pairs)]


def read_blend(path: str | os.PathLike[str]) -> Blend:
    """Parse any accepted blend form into {split: [BlendEntry, ...] | None}."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(str(path), f"not readable as JSON ({exc})", hint=_HINT) from exc
    if not isinstance(raw, dict):
        raise FormatError(str(path), f"a blend is a JSON object, not a {type(raw).__name__}",
                          hint=_HINT)
    if "data_paths" in raw:  # single blend with a split string: each split cuts every dataset
        entries = _entries(path, "data_paths", raw["data_paths"])
        return {s: list(entries) if entries else None for s in _SPLITS}
    if "validation" in raw and "valid" not in raw:  # the earlier kit's key
        raw["valid"] = raw.pop("validation")
    unknown = sorted(set(raw) - set(_SPLITS))
    if unknown:
        guess = did_you_mean(unknown[0], _SPLITS)
        raise FormatError(str(path), f"unknown key {unknown[0]!r}{guess}", hint=_HINT)
    missing = [s for s in _SPLITS if s not in raw]
    if missing:
        raise FormatError(str(path), f"missing split key(s) {', '.join(missing)}",
                          hint="write null for an empty split; " + _HINT)
    return {s: _entries(path, s, raw[s]) for s in _SPLITS}
