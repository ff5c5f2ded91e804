"""The cattrs converter behind `structure`: strict scalars, readable mismatch messages.

cattrs' defaults are lenient in ways that hide config mistakes (`int(2.7)` is 2, a string
is a list of characters, `bool("false")` is True), so scalars, literals, enums, unions,
lists and mappings get hooks that accept only what a config can sensibly mean and say
`expected X, got Y` otherwise.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any

from kit_config._suggest import did_you_mean
from kit_config.errors import KitError

__all__ = [
    "TypeMismatch",
    "describe",
    "get_converter",
    "register_structure_hook",
    "type_name",
]


class TypeMismatch(ValueError):
    """A value does not fit its declared type; the message is the whole explanation."""


def describe(value: Any) -> str:
    """Show a config value the way an error message should: `'abc'`, `list [1, 2]`."""
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def type_name(tp: Any) -> str:
    """Readable name of a type annotation: `int`, `list[str]`, `Optional[Path]`."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "").replace("pathlib.", "")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise TypeMismatch(f"expected int, got {describe(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise TypeMismatch(f"expected float, got {describe(value)}")


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise TypeMismatch(f"expected bool, got {describe(value)}")


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # `name: 123` in YAML means the text 123
    raise TypeMismatch(f"expected str, got {describe(value)}")


def _structure_path(value: Any, tp: Any) -> Any:
    if isinstance(value, str | PurePath) and str(value):
        return (tp if isinstance(tp, type) else Path)(value)
    raise TypeMismatch(f"expected a path, got {describe(value)}")


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _structure_literal(value: Any, tp: Any) -> Any:
    allowed = typing.get_args(tp)
    for choice in allowed:
        if value == choice and type(value) is type(choice):
            return choice
    shown = ", ".join(repr(a) for a in allowed)
    hint = (
        did_you_mean(value, [a for a in allowed if isinstance(a, str)])
        if isinstance(value, str)
        else ""
    )
    raise TypeMismatch(f"expected one of {shown}, got {describe(value)}{hint}")


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _structure_enum(value: Any, tp: Any) -> Any:
    if isinstance(value, tp):
        return value
    for member in tp:
        if member.value == value and type(member.value) is type(value):
            return member
    if isinstance(value, str) and value in tp.__members__:
        return tp.__members__[value]  # the member name works too: `mode: FAST`
    names = [str(m.value) for m in tp]
    hint = did_you_mean(value, names) if isinstance(value, str) else ""
    raise TypeMismatch(
        f"expected one of {', '.join(repr(m.value) for m in tp)} ({tp.__name__}), "
        f"got {describe(value)}{hint}"
    )


def _is_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if origin is tuple:
        args = typing.get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis
    return origin in (list, typing.List, set, frozenset) or (  # noqa: UP006
        isinstance(origin, type)
        and origin.__module__ == "collections.abc"
        and origin.__name__ in ("Sequence", "MutableSequence", "Set", "MutableSet")
    )


def _is_mapping(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return origin in (dict, typing.Dict) or (  # noqa: UP006
        isinstance(origin, type)
        and origin.__module__ == "collections.abc"
        and origin.__name__ in ("Mapping", "MutableMapping")
    )


def _exact(tp: type) -> Callable[[Any, Any], Any]:
    """A scalar hook for typed sources (TOML, JSON): the value must already be of the type
    (an int is a float too)."""

    def hook(value: Any, _: Any) -> Any:
        numeric = tp is float and isinstance(value, int)
        if (not isinstance(value, bool) or tp is bool) and (isinstance(value, tp) or numeric):
            return tp(value)
        raise TypeMismatch(f"expected {tp.__name__}, got {describe(value)}")

    return hook


def get_converter(*, exact: bool = False) -> Any:
    """A shared converter, built on first use (cattrs is imported lazily). Text sources
    (YAML, overrides) may mean 4 by `"4"`; with `exact` (TOML, JSON) that is a mistake."""
    if exact not in _converters:
        _converters[exact] = _build(exact)
    return _converters[exact]


# Hooks registered by higher packages (kit-artifacts: typed artifact inputs), in order.
_extra_hooks: list[
    tuple[Callable[[Any], bool], Callable[[Any, Any], Any], Callable[[Any], Any] | None]
] = []


def register_structure_hook(
    predicate: Callable[[Any], bool],
    hook: Callable[[Any, Any], Any],
    *,
    unstructure: Callable[[Any], Any] | None = None,
) -> None:
    """Let `structure` build config fields whose type satisfies `predicate` with `hook`.

    The seam through which a higher package teaches kit-config a type without kit-config
    importing it. `hook(value, type)` returns the field value; a kit error, `ValueError` or
    `TypeError` it raises becomes a problem at the field's key path, its message as the
    text, so it should say what is wrong and how to fix it in one line. `unstructure(obj)`
    gives the config value back (what `unstructure` and provenance record), which `hook`
    must accept again.
    """
    _extra_hooks.append((predicate, hook, unstructure))
    for conv in _converters.values():  # converters already built learn it too
        _install(conv, predicate, hook, unstructure)


def _install(conv: Any, predicate: Callable[[Any], bool], hook: Callable[[Any, Any], Any],
             unstructure: Callable[[Any], Any] | None) -> None:
    import attrs

    by_fields: dict[Any, Callable[[Any, Any], Any]] = {}

    def checked(value: Any, tp: Any) -> Any:
        if isinstance(value, Mapping) and attrs.has(tp):
            # A mapping spells the object's own fields (an artifact's metadata.json), not a
            # reference to one: build the class as cattrs would without the hook.
            if tp not in by_fields:
                by_fields[tp] = conv.gen_structure_attrs_fromdict(tp)
            return by_fields[tp](value, tp)
        try:
            return hook(value, tp)
        except (KitError, TypeError, ValueError) as exc:
            raise TypeMismatch(str(exc)) from exc

    conv.register_structure_hook_func(predicate, checked)
    if unstructure is not None:
        conv.register_unstructure_hook_func(predicate, unstructure)


_converters: dict[bool, Any] = {}


def _build(exact: bool) -> Any:
    import dataclasses

    import attrs
    import cattrs
    from cattrs.cols import list_structure_factory, mapping_structure_factory

    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    lenient: dict[type, Callable[[Any, Any], Any]] = {
        int: _structure_int, float: _structure_float, bool: _structure_bool, str: _structure_str}
    for tp, hook in lenient.items():
        conv.register_structure_hook(tp, _exact(tp) if exact else hook)
    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, PurePath), _structure_path
    )
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook_func(_is_enum, _structure_enum)

    def union_hook(value: Any, tp: Any) -> Any:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        # An exact type match wins over a conversion (`int | str` keeps "1" a string).
        for member in members:
            if isinstance(member, type) and type(value) is member:
                return value
        if isinstance(value, Mapping):
            # A mapping can only mean the one class member: report ITS problems (an unknown
            # key inside it), not a bare "expected A | str".
            classes: list[Any] = [m for m in members if attrs.has(m) or dataclasses.is_dataclass(m)]
            if len(classes) == 1:
                return conv.structure(value, classes[0])
        errors: list[str] = []
        for member in members:
            try:
                return conv.structure(value, member)
            except Exception as exc:  # try the next member of the union
                errors.append(str(exc))
        if len(members) == 1 and errors:
            raise TypeMismatch(errors[0])
        raise TypeMismatch(f"expected {type_name(tp)}, got {describe(value)}")

    conv.register_structure_hook_func(_is_union, union_hook)

    def sequence_factory(tp: Any) -> Callable[[Any, Any], Any]:
        origin = typing.get_origin(tp) or tp
        elem = (typing.get_args(tp) or (Any,))[0]
        inner = list_structure_factory(list[elem], conv)  # type: ignore[valid-type]
        build: Callable[[Any], Any] = (
            tuple
            if origin is tuple
            else frozenset
            if origin is frozenset
            else set
            if origin in (set,) or getattr(origin, "__name__", "") in ("Set", "MutableSet")
            else list
        )

        def hook(value: Any, _: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise TypeMismatch(f"expected a list ({type_name(tp)}), got {describe(value)}")
            out = inner(value, list[elem])  # type: ignore[valid-type]
            return out if build is list else build(out)

        return hook

    conv.register_structure_hook_factory(_is_sequence, sequence_factory)

    def mapping_factory(tp: Any) -> Callable[[Any, Any], Any]:
        inner = mapping_structure_factory(tp, conv)

        def hook(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise TypeMismatch(f"expected a mapping ({type_name(tp)}), got {describe(value)}")
            return inner(value, tp)

        return hook

    conv.register_structure_hook_factory(_is_mapping, mapping_factory)
    for predicate, hook, unstructure in _extra_hooks:
        _install(conv, predicate, hook, unstructure)
    return conv
