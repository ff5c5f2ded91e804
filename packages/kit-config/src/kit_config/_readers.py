"""Parse one YAML, TOML or JSON file into a plain dict plus the line of every key.

Each reader returns `(data, locations)` and raises `ConfigFileError` with the file, line
and column of a syntax error and a caret excerpt of the offending line.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable
from typing import Any

from kit_config._sources import Location
from kit_config._validate import join_path
from kit_config.errors import ConfigFileError

__all__ = ["READERS", "SUPPORTED_SUFFIXES", "caret_excerpt", "read_text_config"]

Reader = Callable[[str, str], tuple[Any, dict[str, Location]]]

# YAML's float rule misses `1e-4` (no dot): OmegaConf patches it, and so must we, or the
# same file would load differently here and in Hydra.
_YAML_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)

_yaml_loader_cls: Any = None


def _yaml_loader() -> Any:
    """Build (once) a YAML loader that matches OmegaConf's: floats, no timestamps, no dup keys.

    It uses libyaml's C parser when present: the same grammar as PyYAML's, several times faster.
    """
    global _yaml_loader_cls
    if _yaml_loader_cls is not None:
        return _yaml_loader_cls
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    class KitYamlLoader(base):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag != "tag:yaml.org,2002:str":
                    continue
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    KitYamlLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    KitYamlLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789.")
    )
    _yaml_loader_cls = KitYamlLoader
    return KitYamlLoader


def caret_excerpt(text: str, line: int | None, column: int | None) -> str | None:
    """Return the 1-based `line` of `text` with a caret under `column` (None if out of range)."""
    if line is None:
        return None
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    src = lines[line - 1]
    col = max(1, min(column or 1, len(src) + 1))
    return f"{line:>5} | {src}\n      | {' ' * (col - 1)}^"


def _syntax_error(kind: str, reason: str, text: str, file: str, line: int | None,
                  column: int | None) -> ConfigFileError:
    """`invalid KIND: reason` at file:line:column, with a caret excerpt of that line."""
    return ConfigFileError(f"invalid {kind}: {reason}", file=file, line=line, column=column,
                           excerpt=caret_excerpt(text, line, column),
                           hint="fix the syntax at that position")


def _yaml_locations(node: Any, file: str) -> dict[str, Location]:
    """Walk a composed YAML node tree: key path -> line of the key (or item)."""
    out: dict[str, Location] = {}
    stack: list[tuple[str, Any]] = [("", node)]
    while stack:
        prefix, cur = stack.pop()
        if cur.id == "mapping":
            for key_node, value_node in cur.value:
                path = join_path(prefix, str(key_node.value))
                out[path] = Location(file, key_node.start_mark.line + 1)
                stack.append((path, value_node))
        elif cur.id == "sequence":
            for i, item in enumerate(cur.value):
                path = join_path(prefix, i)
                out[path] = Location(file, item.start_mark.line + 1)
                stack.append((path, item))
    return out


def _read_yaml(text: str, file: str) -> tuple[Any, dict[str, Location]]:
    import yaml

    loader = _yaml_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        locations = _yaml_locations(node, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise _syntax_error("YAML", " ".join(reason.split()), text, file, line, col) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"invalid YAML: {' '.join(str(exc).split())}", file=file) from None
    finally:
        loader.dispose()
    locations[""] = Location(file, 1)
    return data, locations


_TOML_POS = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_KEY = re.compile(r"""^\s*(?P<key>[A-Za-z0-9_\-."' ]+?)\s*=""")
_TOML_TABLE = re.compile(r"""^\s*\[\[?\s*(?P<key>[^\]]+?)\s*\]\]?\s*(?:#.*)?$""")


def _toml_plain(value: Any) -> Any:
    """Turn TOML dates and times into ISO strings (OmegaConf cannot hold them)."""
    if isinstance(value, dict):
        return {k: _toml_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_plain(v) for v in value]
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    return value


def _toml_key(raw: str) -> str:
    """Normalise a TOML dotted key (`a . "b"`) to a kit key path (`a.b`)."""
    return ".".join(part.strip().strip("\"'") for part in raw.split("."))


def _toml_locations(text: str, file: str) -> dict[str, Location]:
    """Best-effort key lines for TOML (tomllib reports none): table headers and `k =` lines."""
    out: dict[str, Location] = {"": Location(file, 1)}
    table = ""
    in_multiline = False
    for n, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        if in_multiline and not _TOML_KEY.match(line):
            continue
        m = _TOML_TABLE.match(line)
        if m:
            table = _toml_key(m.group("key"))
            out.setdefault(table, Location(file, n))
            continue
        m = _TOML_KEY.match(line)
        if m:
            key = _toml_key(m.group("key"))
            out[f"{table}.{key}" if table else key] = Location(file, n)
    return out


def _read_toml(text: str, file: str) -> tuple[Any, dict[str, Location]]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.match(str(exc))
        line = int(m.group("line")) if m else None
        col = int(m.group("col")) if m else None
        reason = m.group("msg") if m else str(exc)
        raise _syntax_error("TOML", reason, text, file, line, col) from None
    return _toml_plain(data), _toml_locations(text, file)


def _read_json(text: str, file: str) -> tuple[Any, dict[str, Location]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _syntax_error("JSON", exc.msg, text, file, exc.lineno, exc.colno) from None
    return data, {"": Location(file, 1)}


READERS: dict[str, Reader] = {
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
    ".toml": _read_toml,
    ".json": _read_json,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)


def read_text_config(
    text: str, file: str, suffix: str
) -> tuple[dict[str, Any], dict[str, Location]]:
    """Parse `text` as the format of `suffix`; the top level must be a non-empty mapping."""
    if not text.strip():
        raise ConfigFileError(
            "config file is empty", file=file, hint="write at least one `key: value`"
        )
    data, locations = READERS[suffix](text, file)
    if data is None:
        raise ConfigFileError(
            "config file is empty (only comments)", file=file, hint="write at least one key"
        )
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"top level must be a mapping of keys, got a {type(data).__name__}",
            file=file,
            line=1,
            hint="put the values under named keys (`key: [...]`)",
        )
    return data, locations
