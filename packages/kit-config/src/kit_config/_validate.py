"""The semantic half of `structure()`: each config class may check what types cannot say.

A config class (attrs or dataclass) defines `__kit_validate__(self) -> list[ConfigProblem]`
with key paths relative to itself (`"lr"`, not `"optimizer.lr"`). `structure()` calls the
hook of the top class and of every nested config object, prefixes the paths, and reports
these problems in the same `ConfigValidationError` as the type problems. When some keys
have the wrong type the whole object cannot be built; the sub-configs that did type-check
are still built and validated, so one run shows every problem it can.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from kit_config.errors import ConfigProblem

__all__ = ["VALIDATE_HOOK", "is_config", "join_path", "partial_problems", "path_parts",
           "semantic_problems"]

VALIDATE_HOOK = "__kit_validate__"


def join_path(prefix: str, key: Any) -> str:
    """`prefix.key`, or `prefix[key]` for a list index."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key == "":
        return prefix
    return f"{prefix}.{key}" if prefix else str(key)


def is_config(obj: Any) -> bool:
    """Whether `obj` (a class or an instance) is an attrs class or a dataclass."""
    import attrs

    cls = obj if isinstance(obj, type) else type(obj)
    return attrs.has(cls) or dataclasses.is_dataclass(cls)


def _field_values(obj: Any) -> list[tuple[str, Any]]:
    import attrs

    if attrs.has(type(obj)):
        return [(a.alias or a.name, getattr(obj, a.name)) for a in attrs.fields(type(obj))]
    return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]


def semantic_problems(obj: Any, prefix: str = "") -> list[ConfigProblem]:
    """Every `__kit_validate__` problem of `obj` and the config objects nested in it."""
    out: list[ConfigProblem] = []
    if isinstance(obj, list | tuple):
        for index, item in enumerate(obj):
            out += semantic_problems(item, join_path(prefix, index))
        return out
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            out += semantic_problems(value, join_path(prefix, key))
        return out
    if isinstance(obj, type) or not is_config(obj):
        return out
    for name, value in _field_values(obj):
        out += semantic_problems(value, join_path(prefix, name))
    hook = getattr(type(obj), VALIDATE_HOOK, None)
    if hook is not None:
        for problem in hook(obj):
            out.append(ConfigProblem(join_path(prefix, problem.path), problem.message))
    return out


def path_parts(path: str) -> list[Any]:
    """The keys of a key path, list indices as ints: `a.b[2].c` -> ['a', 'b', 2, 'c']
    (the inverse of `join_path`)."""
    return [int(i) if i else k for k, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]


def _without(data: Any, paths: set[str]) -> Any:
    """A copy of `data` with the keys at `paths` removed (their defaults then apply)."""
    out = copy.deepcopy(data)
    for path in paths:
        *parents, last = path_parts(path) or [None]
        node = out
        for part in parents:
            ok = isinstance(node, Mapping) and part in node or (
                isinstance(node, list) and isinstance(part, int) and part < len(node))
            node = node[part] if ok else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def partial_problems(data: Any, cls: Any, bad: set[str], prefix: str = "") -> list[ConfigProblem]:
    """The semantic problems that can still be found in `data` (a `cls`) with type problems.

    `bad` holds the key paths that failed to type-check. They are dropped so that their
    defaults apply; if `cls` then builds, its hooks run (problems at a dropped key are left
    out). Otherwise (a required key is bad) each sub-config is tried on its own.
    """
    from kit_config._cli import _fields
    from kit_config._converter import get_converter

    mine = {b[len(prefix) :].lstrip(".") if prefix else b for b in bad
            if not prefix or b.startswith((prefix + ".", prefix + "["))}
    try:
        built = get_converter().structure(_without(data, mine), cls)
    except Exception:
        built = None
    if built is not None:
        return [p for p in semantic_problems(built, prefix)
                if not any(p.path == b or p.path.startswith((b + ".", b + "[")) for b in bad)]
    out: list[ConfigProblem] = []
    if not isinstance(data, Mapping):
        return out
    for field in _fields(cls):
        path = join_path(prefix, field.name)
        if field.name not in data or not is_config(field.type):
            continue
        if any(b == path or b.startswith((path + ".", path + "[")) for b in bad):
            out += partial_problems(data[field.name], field.type, bad, path)
            continue
        try:
            sub = get_converter().structure(data[field.name], field.type)
        except Exception:  # reported as a type problem already
            continue
        out += semantic_problems(sub, path)
    return out
