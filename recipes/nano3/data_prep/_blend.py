"""Blend JSON (Megatron-Bridge `per_split_data_args_path`, FORMATS.md section 3).

We write only the flat form `{"train": ["w", "prefix", ...] | null, "valid": ..., "test": ...}`
(weights as strings, `null` for an empty split: Megatron's parser crashes on `[]`). We read
that form, the nested `[[w, prefix], ...]` form the earlier kit's docs show, and the older
single blend `{"data_paths": [...], "split": "99990,8,2"}`.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nano3.data_prep._runner import atomic_write_json

__all__ = ["Blend", "blend_to_json", "read_blend", "write_blend"]

Blend = dict[str, list[tuple[float, str]] | None]
_SPLITS = ("train", "valid", "test")


def blend_to_json(blend: Mapping[str, Sequence[tuple[float, str]] | None]) -> dict[str, Any]:
    """The flat JSON form of a per-split blend (all three keys, null when empty)."""
    out: dict[str, list[str] | None] = {}
    for split in _SPLITS:
        items = blend.get(split) or []
        flat: list[str] = []
        for weight, prefix in items:
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"blend {split}: weight {weight!r} of {prefix} is not positive")
            flat += [repr(float(weight)), str(prefix)]
        out[split] = flat or None
    return out


def write_blend(path: Path, blend: Mapping[str, Sequence[tuple[float, str]] | None]) -> None:
    """Write the flat form atomically, keys in train/valid/test order."""
    atomic_write_json(path, blend_to_json(blend), sort_keys=False)


def _pairs(value: Any, where: str) -> list[tuple[float, str]] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    if all(isinstance(v, list) and len(v) == 2 for v in value):  # nested [[w, prefix], ...]
        return [(float(w), str(p)) for w, p in value]
    if len(value) % 2:  # prefixes only: equal weights (Megatron accepts this too)
        return [(1.0, str(p)) for p in value]
    return [(float(value[i]), str(value[i + 1])) for i in range(0, len(value), 2)]


def read_blend(path: Path) -> Blend:
    """Parse any accepted blend form into {split: [(weight, prefix), ...] | None}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a blend must be a JSON object")
    if "data_paths" in data:  # legacy single blend with a split string: all in one list
        pairs = _pairs(data["data_paths"], f"{path}: data_paths")
        return {"train": pairs, "valid": pairs, "test": pairs}
    unknown = sorted(set(data) - set(_SPLITS) - {"validation"})
    if unknown:
        raise ValueError(f"{path}: unknown blend key {unknown[0]!r} (expected train/valid/test)")
    valid = data.get("valid", data.get("validation"))
    return {"train": _pairs(data.get("train"), f"{path}: train"),
            "valid": _pairs(valid, f"{path}: valid"),
            "test": _pairs(data.get("test"), f"{path}: test")}
