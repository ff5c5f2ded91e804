"""`apply_hydra_overrides`: Hydra's override grammar, parsed by Hydra's own parser.

Semantics (stricter than Hydra where Hydra is silently lenient):
  `a.b=v`   change an existing key (a typo is an error with a did-you-mean suggestion)
  `+a.b=v`  add a new key (error if it exists, even when its value is null)
  `++a.b=v` add or replace
  `~a.b`    delete (error if missing); `~a.b=v` delete only if the value is v
Values are Hydra's: lists, dicts, quoted strings, `null`, and interpolations, which stay
interpolations. Sweeps (`a=1,2`, `range()`, `glob()`, `interval()`) are rejected: a
kit-config composition is one run. Config groups (`db=mysql`, `x/y=z`, `key@pkg=v`) do not
exist here and are rejected too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kit_config._secrets import mask_override
from kit_config._sources import Location, SourceInfo, attach_sources, sources_of
from kit_config._suggest import closest
from kit_config.errors import OverrideError

if TYPE_CHECKING:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Override
    from omegaconf import DictConfig

__all__ = ["apply_hydra_overrides", "apply_overrides_in_place", "parse_override"]

_parser: OverridesParser | None = None
_SEE_DOCS = re.compile(r"\s*See https://hydra\.cc\S*\s*for details\s*$")
_MISSING = object()


def _get_parser() -> OverridesParser:
    global _parser
    if _parser is None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        _parser = OverridesParser.create()
    return _parser


def _parse_failure(text: str, shown: str, exc: BaseException) -> OverrideError:
    """Turn Hydra's multi-line parse error into one line (the caret goes to `.excerpt`)."""
    raw = _SEE_DOCS.sub("", str(exc))
    lines = [ln for ln in raw.splitlines() if ln.strip()]
    excerpt = None
    prefix = "LexerNoViableAltException: "
    if lines and lines[0].startswith(prefix):
        carets = [ln for ln in raw.splitlines()[1:] if ln.strip() == "^"]
        col = max(carets[0].index("^") - len(prefix), 0) if carets else None
        where = f" at position {col + 1}" if col is not None else ""
        reason = f"unexpected character{where}"
        excerpt = f"{shown}\n{' ' * col}^" if col is not None and "\n" not in shown else None
    elif lines and lines[0].startswith("Error parsing override"):
        reason = " ".join(lines[1:]) or lines[0]
    else:
        reason = " ".join(lines) or type(exc).__name__
    err = OverrideError(
        f"malformed override {shown!r}: {reason}",
        override=shown,
        hint="write KEY=VALUE, +KEY=VALUE, ++KEY=VALUE or ~KEY (Hydra override grammar)",
    )
    err.excerpt = excerpt  # type: ignore[attr-defined]
    return err


def parse_override(text: str) -> Override:
    """Parse one override with Hydra's grammar; anything it rejects is an `OverrideError`."""
    shown = mask_override(text)
    if not isinstance(text, str):
        raise OverrideError(
            f"override must be a string, got {type(text).__name__}", override=str(text)
        )
    try:
        parsed = _get_parser().parse_overrides([text])[0]
    except Exception as exc:  # Hydra raises several types (and ValueError from functions)
        raise _parse_failure(text, shown, exc) from None
    key = parsed.key_or_group
    if not key:
        raise OverrideError(
            f"malformed override {shown!r}: the key is empty",
            override=shown,
            hint="write KEY=VALUE",
        )
    if parsed.package is not None or "/" in key:
        raise OverrideError(
            f"config group override {shown!r} is not supported: kit configs have no groups",
            override=shown,
            key=key,
            hint="set keys with dotted paths, e.g. model.size=8b",
        )
    if parsed.is_sweep_override():
        raise OverrideError(
            f"sweep override {shown!r}: a composition is a single run",
            override=shown,
            key=key,
            hint="give one value; quote a literal comma list as a string ('a,b') or use [a,b]",
        )
    return parsed


def _lookup(cfg: Any, segments: list[str]) -> tuple[Any, int]:
    """Walk `segments` from `cfg`: (node reached or _MISSING, index of first missing segment)."""
    from omegaconf import DictConfig, ListConfig

    cur: Any = cfg
    for i, seg in enumerate(segments):
        if isinstance(cur, DictConfig) and not cur._is_none() and not cur._is_missing():
            child = cur._get_node(seg, validate_access=False, throw_on_missing_key=False)
            if child is None:
                return _MISSING, i
            cur = child
        elif isinstance(cur, ListConfig) and not cur._is_none() and not cur._is_missing():
            if not seg.lstrip("-").isdigit() or not -len(cur) <= int(seg) < len(cur):
                return _MISSING, i
            cur = cur._get_node(int(seg))
        else:
            return _MISSING, i
    return cur, len(segments)


def _unknown_key(
    cfg: Any,
    key: str,
    shown: str,
    segments: list[str],
    at: int,
    *,
    deleting: bool = False,
    closed: bool = False,
) -> OverrideError:
    from omegaconf import DictConfig

    parent, _ = _lookup(cfg, segments[:at])
    siblings = [str(k) for k in parent] if isinstance(parent, DictConfig) else []
    best = closest(segments[at], siblings)
    suggestion = ".".join([*segments[:at], best, *segments[at + 1 :]]) if best else None
    where = ".".join(segments[:at]) or "the top level"
    msg = f"unknown key {key!r} in override {shown!r}: no {segments[at]!r} under {where}"
    if suggestion:
        msg += f" (did you mean {suggestion!r}?)"
    if deleting:
        hint = "nothing to delete"
    elif closed and suggestion:  # the schema knows every key: `+` would be refused anyway
        head = shown[: len(shown) - len(shown.lstrip("+~"))]
        hint = f"write {head}{suggestion}{shown[len(head) + len(key):]}"
    elif closed:
        hint = "the typed config has no such key (its keys are listed by the stage's --help)"
    else:
        hint = f"to add a new key write +{shown}"
    return OverrideError(msg, override=shown, key=key, suggestion=suggestion, hint=hint)


def _drop_locations(info: SourceInfo, key: str) -> None:
    stale = [p for p in info.locations if p == key or p.startswith((key + ".", key + "["))]
    for p in stale:
        del info.locations[p]


def _apply_one(
    cfg: DictConfig, parsed: Override, text: str, info: SourceInfo, closed: bool
) -> None:
    from omegaconf import ListConfig, OmegaConf, open_dict

    shown = mask_override(text)
    key = parsed.key_or_group
    segments = key.split(".")
    value = parsed.value()
    node, found_upto = _lookup(cfg, segments)
    exists = node is not _MISSING
    if parsed.is_delete():
        if not exists:
            raise _unknown_key(cfg, key, shown, segments, found_upto, deleting=True, closed=closed)
        if value is not None:
            current = OmegaConf.select(cfg, key, throw_on_missing=False)
            if current != value:
                raise OverrideError(
                    f"cannot delete {key!r} with {shown!r}: "
                    f"its value is {current!r}, not {value!r}",
                    override=shown,
                    key=key,
                    hint=f"write ~{key} to delete it whatever its value",
                )
        parent, _ = _lookup(cfg, segments[:-1])
        last: int | str = int(segments[-1]) if isinstance(parent, ListConfig) else segments[-1]
        with open_dict(cfg):
            del parent[last]
        _drop_locations(info, key)
        info.locations[key] = Location(f"override {shown!r}")  # a problem it causes points here
        return
    if parsed.is_add() and exists:
        raise OverrideError(
            f"cannot add {key!r} with {shown!r}: the key already exists",
            override=shown,
            key=key,
            hint=f"write {shown[1:]} to change it, or +{shown} to add or replace",
        )
    if not exists and not (parsed.is_add() or parsed.is_force_add()):
        raise _unknown_key(cfg, key, shown, segments, found_upto, closed=closed)
    OmegaConf.update(cfg, key, value, merge=True, force_add=not exists)
    _drop_locations(info, key)
    info.locations[key] = Location(f"override {shown!r}")


def apply_overrides_in_place(
    cfg: DictConfig, overrides: Sequence[str], info: SourceInfo, *, closed: bool = False
) -> None:
    """Apply `overrides` to `cfg` itself (used by compose, which owns a fresh config).

    `closed`: `cfg` already holds every key of a typed schema, so an unknown key's hint
    names the schema's closest key instead of proposing `+KEY`.
    """
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(overrides, str):
        raise OverrideError(
            "overrides must be a list of strings, not one string",
            override=mask_override(overrides),
            hint="wrap it in a list: [override]",
        )
    parsed = [(parse_override(text), text) for text in overrides]
    for override, text in parsed:
        try:
            _apply_one(cfg, override, text, info, closed)
        except OverrideError:
            raise
        except (OmegaConfBaseException, ValueError, TypeError, KeyError, IndexError) as exc:
            shown = mask_override(text)
            reason = " ".join(str(exc).split("\n")[0].split())
            raise OverrideError(
                f"cannot apply override {shown!r}: {reason}",
                override=shown,
                key=override.key_or_group,
                hint="check that the key path fits the config's structure",
            ) from None
        info.overrides.append(mask_override(text))


def apply_hydra_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """Return a copy of `cfg` with `overrides` (Hydra grammar) applied; `cfg` is untouched."""
    info = sources_of(cfg)
    info = info.copy() if info is not None else SourceInfo()
    new = copy.deepcopy(cfg)
    apply_overrides_in_place(new, overrides, info)
    attach_sources(new, info)
    return new
