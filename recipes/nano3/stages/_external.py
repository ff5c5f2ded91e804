"""What the external backends (`megatron-bridge`, `nemo-rl`) share: inputs, YAML, snapshots.

Neither framework is importable here, so what they accept is checked against checked-in
snapshots of their config schemas (`config/backends/*.json`, refreshed by
`python -m nano3.stages.tools.backend_snapshots`): a key they do not know fails before a job
is ever submitted, instead of being ignored or failing on a GPU node.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SNAPSHOT_DIR", "apply_dotted", "dump_yaml", "key_paths", "snapshot"]

SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "config" / "backends"


def apply_dotted(tree: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Merge `{"a.b": v}` overrides into a nested dict (in place; returns it)."""
    for key, value in options.items():
        node = tree
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def key_paths(tree: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key path of a nested mapping (list items share their key's path)."""
    for item in tree if isinstance(tree, list) else [tree]:
        if isinstance(item, dict):
            for key, value in item.items():
                yield f"{prefix}{key}"
                yield from key_paths(value, f"{prefix}{key}.")


@functools.cache
def snapshot(name: str) -> dict[str, Any]:
    """A checked-in schema snapshot, `config/backends/<name>.json`."""
    loaded: dict[str, Any] = json.loads((SNAPSHOT_DIR / f"{name}.json").read_text("utf-8"))
    return loaded


def dump_yaml(tree: dict[str, Any]) -> str:
    """Block-style YAML in our key order (floats keep a dot, so YAML 1.1 reads them back)."""
    import yaml

    return str(yaml.safe_dump(tree, sort_keys=False, default_flow_style=False))
