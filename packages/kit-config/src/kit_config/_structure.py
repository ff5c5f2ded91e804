"""`structure`, `to_container`, `unstructure`: from a composed config to typed objects.

Resolution and validation collect EVERY problem (missing `???` values, broken
interpolations, type mismatches, unknown and missing keys) and report them together, each
with its key path and the file and line it came from.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from kit_config._converter import TypeMismatch, describe, get_converter, type_name
from kit_config._resolvers import known_resolvers, load_resolver_plugins, plugin_failures
from kit_config._sources import SourceInfo, sources_of
from kit_config._suggest import did_you_mean
from kit_config._validate import (
    is_config,
    join_path,
    partial_problems,
    path_parts,
    semantic_problems,
)
from kit_config.errors import ConfigProblem, ConfigValidationError, InterpolationError, KitError

__all__ = ["plain_value", "resolve_collecting", "structure", "to_container", "unstructure"]

T = TypeVar("T")


def _interpolation_message(exc: Exception, expression: str | None) -> str:
    """One line saying why `expression` failed (a kit error raised by a resolver wins)."""
    from omegaconf.errors import GrammarParseError, UnsupportedInterpolationType

    cause = exc.__cause__
    if isinstance(cause, KitError):
        return f"cannot resolve {expression}: {cause}"
    if isinstance(exc, UnsupportedInterpolationType):
        first = str(exc).splitlines()[0]
        name = first.rsplit(" ", 1)[-1].strip("'") if first else "?"
        failed = plugin_failures().get(name)
        why = f" (its plugin failed to load: {failed})" if failed else ""
        hint = did_you_mean(name, known_resolvers())
        return f"unknown resolver {name!r} in {expression}{why}{hint}"
    if isinstance(exc, GrammarParseError):
        return f"malformed interpolation {expression}"
    # OmegaConf wraps a resolver's own exception ("KeyError raised while resolving..."):
    # its message is the useful part.
    text = str(cause).strip("'\"") if cause is not None else str(exc).split("\n")[0]
    return f"cannot resolve {expression}: {' '.join(text.split())}"


def resolve_collecting(cfg: Any) -> tuple[Any, list[ConfigProblem]]:
    """Resolve `cfg` into plain containers; problems are collected, their keys left out."""
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    load_resolver_plugins()
    if not isinstance(cfg, DictConfig | ListConfig):
        return cfg, []
    try:  # fast path: one C-free pass through OmegaConf when nothing is wrong
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True), []
    except OmegaConfBaseException:
        pass
    info = sources_of(cfg) or SourceInfo()
    problems: list[ConfigProblem] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, DictConfig):
            keys: list[Any] = list(node.keys())
        else:
            keys = list(range(len(node)))
        out: Any = {} if isinstance(node, DictConfig) else []
        for key in keys:
            child_path = join_path(path, key)
            child = node._get_node(key)
            if child is not None and child._is_missing() and not child._is_interpolation():
                problems.append(_located(info, child_path, "missing required value (???)"))
                continue
            try:
                value = node[key]
            except OmegaConfBaseException as exc:
                raw = child._value() if child is not None else None
                expr = raw if isinstance(raw, str) else None
                problems.append(_located(info, child_path, _interpolation_message(exc, expr)))
                continue
            if isinstance(value, DictConfig | ListConfig):
                value = None if value._is_none() else walk(value, child_path)
            if isinstance(out, dict):
                out[key] = value
            else:
                out.append(value)
        return out

    return walk(cfg, ""), problems


def to_container(cfg: Any) -> dict[str, Any]:
    """Return `cfg` resolved as plain dicts and lists; `???` values stay as "???".

    Raises `InterpolationError` (for the first of them) when interpolations cannot resolve.
    """
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    load_resolver_plugins()
    try:
        out = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException:
        pass
    else:
        assert isinstance(out, dict)
        return out  # type: ignore[return-value]
    _, problems = resolve_collecting(cfg)
    bad = [p for p in problems if not p.message.startswith("missing required value")] or problems
    first = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise InterpolationError(
        f"{first}{more}",
        key_path=first.path,
        expression=_raw_at(cfg, first.path),
        file=first.file,
        line=first.line,
        hint="set the variable or key it refers to, or give a default (${oc.env:VAR,default})",
    )


def _raw_at(cfg: Any, path: str) -> str | None:
    """The unresolved text at a dotted `path` (the interpolation as written), if a string."""
    node: Any = cfg
    for part in path_parts(path):
        try:
            node = node._get_node(part)
        except Exception:
            return None
        if node is None:
            return None
    raw = node._value()
    return raw if isinstance(raw, str) else None


def _fields_of(cls: Any) -> list[str]:
    import attrs

    if attrs.has(cls):
        return [a.alias or a.name for a in attrs.fields(cls)]
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return []


def _value_at(data: Any, parts: list[Any]) -> tuple[bool, Any]:
    cur = data
    for part in parts:
        in_map = isinstance(cur, Mapping) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_map or in_list:
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _path_of(parts: list[Any]) -> str:
    return functools.reduce(join_path, parts, "")


def _cattrs_problems(exc: BaseException, data: Any) -> list[tuple[str, str]]:
    """Flatten cattrs' exception tree into (key path, message) pairs."""
    from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

    out: list[tuple[str, str]] = []

    def leaf(err: BaseException, parts: list[Any], tp: Any) -> None:
        found, value = _value_at(data, parts)
        if isinstance(err, TypeMismatch):
            msg = str(err)
        elif isinstance(err, KeyError) and not found:
            msg = (
                f"missing required field ({type_name(tp)})"
                if tp is not None
                else "missing required field"
            )
        elif isinstance(err, ForbiddenExtraKeysError):
            known = _fields_of(err.cl)
            for extra in sorted(err.extra_fields):
                out.append(
                    (
                        _path_of([*parts, extra]),
                        f"unknown key {extra!r}{did_you_mean(extra, known)}",
                    )
                )
            return
        elif tp is not None and _fields_of(tp) and not isinstance(value, Mapping):
            msg = f"expected a mapping ({type_name(tp)}), got {describe(value)}"
        elif tp is not None:
            msg = f"expected {type_name(tp)}, got {describe(value)} ({type(err).__name__}: {err})"
        else:
            msg = f"{type(err).__name__}: {err}"
        out.append((_path_of(parts), msg))

    def walk(err: BaseException, parts: list[Any], tp: Any = None) -> None:
        if not isinstance(err, ClassValidationError | IterableValidationError):
            leaf(err, parts, tp)
            return
        with_notes, without = err.group_exceptions()
        for sub, note in with_notes:
            key = getattr(note, "name", None)
            if key is None:
                key = getattr(note, "index", None)
            walk(sub, [*parts, key], getattr(note, "type", None))
        for sub in without:
            walk(sub, parts)

    walk(exc, [])
    return out


def structure(cfg: Any, cls: type[T], *, exact: bool = False) -> T:
    """Resolve `cfg`, build a `cls` (attrs class or dataclass, nested) and validate it.

    Type problems and the `__kit_validate__` problems of every config class involved (see
    `_validate`) are collected together; if any, `ConfigValidationError` lists them all,
    each with its key path and, where known, the file and line (or override) it came from.
    With `exact`, scalars are not converted (`"4"` is not an int): for typed sources (TOML,
    JSON).
    """
    from omegaconf import DictConfig, ListConfig

    if not _fields_of(cls):
        raise TypeError(f"structure() needs an attrs class or dataclass, got {cls!r}")
    data, problems = resolve_collecting(cfg)
    info = (sources_of(cfg) if isinstance(cfg, DictConfig | ListConfig) else None) or SourceInfo()
    if not isinstance(data, Mapping):
        raise ConfigValidationError(
            [ConfigProblem("", f"expected a mapping for {cls.__name__}, got {describe(data)}")],
            schema=cls.__name__,
        )
    conv = get_converter(exact=exact)
    try:
        result = conv.structure(data, cls)
    except Exception as exc:  # cattrs' exception groups carry every problem
        reported = {p.path for p in problems}
        for path, message in _cattrs_problems(exc, data):
            if any(path == r or path.startswith((r + ".", r + "[")) for r in reported):
                continue  # already reported as missing / unresolvable
            problems.append(_located(info, path, message))
        semantic = partial_problems(data, cls, {p.path for p in problems})
    else:
        semantic = semantic_problems(result)
        if not problems and not semantic:
            return result  # type: ignore[no-any-return]
    problems += [_located(info, p.path, p.message) for p in semantic]
    raise ConfigValidationError(problems, schema=cls.__name__, hint="fix each key listed")


def _located(info: SourceInfo, path: str, message: str) -> ConfigProblem:
    loc = info.locate(path)
    return ConfigProblem(path, message, loc.file if loc else None, loc.line if loc else None)


def plain_value(obj: Any) -> Any:
    """`obj` as plain data: config objects as dicts (through the converter, so registered
    types such as artifacts unstructure as configured), collections as lists, paths as text
    and enums as their values. A value without config objects never loads cattrs."""
    import enum
    from pathlib import PurePath

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [plain(v) for v in value]
        if isinstance(value, PurePath):
            return str(value)
        if isinstance(value, enum.Enum):
            return plain(value.value)
        if is_config(value) and not isinstance(value, type):
            return plain(get_converter().unstructure(value))
        return value

    return plain(obj)


def unstructure(obj: Any) -> dict[str, Any]:
    """Turn a typed config (attrs/dataclass) back into plain dicts (paths and enums as text)."""
    out = plain_value(obj)
    if not isinstance(out, dict):
        raise TypeError(
            f"unstructure() needs an attrs instance or dataclass, got {type(obj).__name__}"
        )
    return out
