"""Small, strict structuring and type checking of artifact fields from JSON values.

cattrs would coerce `"12"` to 12 and 1.5 to 1; artifact metadata must never change meaning
silently, so this checker accepts only values of the declared type (an int for a float field
is fine: JSON cannot tell them apart) and builds nested attrs objects from JSON objects.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = [
    "closest",
    "describe",
    "structure_value",
]

NestedBuilder = Callable[[type[Any], dict[str, Any], str, list[str]], Any]


def closest(word: str, known: Sequence[str]) -> str | None:
    """The known name closest to `word`, if any is reasonably close."""
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.5)
    if matches:
        return matches[0]
    lowered = word.lower()
    for candidate in known:  # e.g. `loss` -> `final_loss`
        if lowered in candidate.lower() or candidate.lower() in lowered:
            return candidate
    return None


def describe(tp: Any) -> str:
    """A short readable name for a type annotation."""
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and not typing.get_args(tp):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            tp.__name__, tp.__name__
        )
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple, Sequence):
        args = typing.get_args(tp)
        return f"list of {describe(args[0])}" if args else "list"
    if origin is dict:
        return "object"
    return str(tp)


def structure_value(
    value: Any, tp: Any, where: str, problems: list[str], build: NestedBuilder
) -> Any:
    """Return `value` as type `tp`, appending `where: problem` to `problems` on a mismatch."""
    if tp is Any or tp is object:
        return value
    if tp is type(None):
        if value is not None:
            problems.append(f"{where}: expected null, got {type(value).__name__}")
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        if isinstance(value, dict):
            # A JSON object can only be meant as the attrs member: report ITS problems.
            for option in options:
                if isinstance(option, type) and attrs.has(option):
                    return build(option, value, where, problems)
        for option in options:
            trial: list[str] = []
            result = structure_value(value, option, where, trial, build)
            if not trial:
                return result
        problems.append(f"{where}: expected {describe(tp)}, got {_kind(value)}")
        return value
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            problems.append(f"{where}: expected {describe(tp)}, got {_kind(value)}")
            return value
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        items = [
            structure_value(v, item_tp, f"{where}[{i}]", problems, build)
            for i, v in enumerate(value)
        ]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected object, got {_kind(value)}")
        return value
    if isinstance(tp, type) and attrs.has(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, dict):
            return build(tp, value, where, problems)
        problems.append(f"{where}: expected {describe(tp)} object, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    problems.append(f"{where}: expected {describe(tp)}, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"[:80]
