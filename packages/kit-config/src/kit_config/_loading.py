"""`load_config`: one config file, its `defaults:` chain merged in, as an OmegaConf config.

`defaults:` names a file or a list of files, relative to the file that names them. They
are merged in order, then the file's own keys on top (Hydra's `_self_` placement is
honoured when listed). Files are merged as plain dicts and turned into one OmegaConf
object at the end: creating OmegaConf nodes is the expensive step, so it is done once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit_config._readers import SUPPORTED_SUFFIXES, read_text_config
from kit_config._sources import Location, SourceInfo, attach_sources
from kit_config.errors import ConfigFileError, ConfigNotFoundError

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "create_config",
    "load_config",
    "load_omegaconf_yaml",
    "merge_into",
    "read_config_tree",
]

_SELF = "_self_"


def merge_into(base: dict[str, Any], top: dict[str, Any]) -> None:
    """Deep-merge `top` into `base` in place: mappings merge, anything else replaces."""
    for key, value in top.items():
        old = base.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge_into(old, value)
        else:
            base[key] = value


def _resolve_default(entry: str, parent: Path) -> Path:
    """Find the file a `defaults:` entry names (extension optional: parent's first)."""
    target = (parent.parent / entry).resolve()
    if target.suffix.lower() in SUPPORTED_SUFFIXES or target.exists():
        return target
    for suffix in (parent.suffix.lower(), *SUPPORTED_SUFFIXES):
        candidate = target.with_name(target.name + suffix)
        if candidate.exists():
            return candidate
    return target.with_name(target.name + parent.suffix)


def _defaults_list(raw: Any, file: Path, line: int | None) -> list[str]:
    """Validate a `defaults:` value: a file name or a list of file names."""
    entries = [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise ConfigFileError(
            "`defaults:` must be a file name or a list of file names",
            file=str(file),
            line=line,
            hint="e.g. `defaults: [base.yaml, _self_]`",
        )
    return list(entries)


def read_config_tree(
    path: Path, info: SourceInfo, stack: tuple[Path, ...] = (), referenced_from: str | None = None
) -> dict[str, Any]:
    """Read `path` and, recursively, its defaults; merged dict out, locations into `info`."""
    path = path.resolve()
    if path in stack:
        cycle = " -> ".join(p.name for p in (*stack[stack.index(path) :], path))
        raise ConfigFileError(
            f"`defaults:` cycle: {cycle}",
            file=str(stack[-1]),
            hint="remove one of these `defaults:` entries",
        )
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ConfigFileError(
            f"unsupported config file extension {path.suffix or '(none)'!r}",
            file=str(path),
            hint=f"use one of {', '.join(SUPPORTED_SUFFIXES)}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (named in `defaults:` of {referenced_from})" if referenced_from else ""
        raise ConfigNotFoundError(
            f"config file not found: {path}{where}",
            file=str(path),
            referenced_from=referenced_from,
            hint="check the path (relative paths in `defaults:` are relative to that file)",
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise ConfigFileError(
            f"cannot read config file: {type(exc).__name__}", file=str(path)
        ) from None
    file = str(path)
    data, locations = read_text_config(text, file, suffix)
    raw_defaults = data.pop("defaults", None)
    if raw_defaults is None:
        info.files.append(file)
        info.locations.update(locations)
        return data
    default_line = locations.pop("defaults", Location(file)).line
    for k in [k for k in locations if k.startswith(("defaults.", "defaults["))]:
        del locations[k]
    entries = _defaults_list(raw_defaults, path, default_line)
    if _SELF not in entries:
        entries.append(_SELF)
    merged: dict[str, Any] = {}
    for entry in entries:
        if entry == _SELF:
            info.files.append(file)
            info.locations.update(locations)
            merge_into(merged, data)
            continue
        child = _resolve_default(entry, path)
        merge_into(merged, read_config_tree(child, info, (*stack, path), f"{file}:{default_line}"))
    return merged


def create_config(data: dict[str, Any], info: SourceInfo, origin: str) -> DictConfig:
    """Turn a plain dict into a DictConfig, reporting values OmegaConf cannot hold."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.create(data)
    except (OmegaConfBaseException, ValueError, TypeError) as exc:
        key = getattr(exc, "full_key", None)
        where = f" at {key}" if key else ""
        raise ConfigFileError(
            f"unsupported value{where}: {str(exc).splitlines()[0]}",
            file=origin,
            hint="use only mappings, lists, strings, numbers, booleans and null",
        ) from None
    attach_sources(cfg, info)
    return cfg


def load_config(path: str | os.PathLike[str]) -> DictConfig:
    """Load a YAML, TOML or JSON config file (by extension) with its `defaults:` chain.

    Interpolations are kept unresolved; `structure()` or `to_container()` resolve them.
    """
    info = SourceInfo(root=str(Path(path).resolve()))
    data = read_config_tree(Path(path), info)
    return create_config(data, info, str(path))


def load_omegaconf_yaml(path: str | os.PathLike[str]) -> DictConfig:
    """Load a config file (the earlier kit's name for `load_config`; any format works)."""
    return load_config(path)
