"""Pin artifact references in a config to exact versions before anything runs.

`${art:NAME[:VER][,FIELD]}` interpolations are rewritten to `${art:NAME:vN[,FIELD]}` (not
resolved to values: the stage resolves them itself, which is how its tracker hears which
inputs it used), and plain `art://NAME[:VER][/SUB]` strings to `art://NAME:vN[/SUB]`. A rerun
passes the recorded pins so the same versions are used, never whatever is latest now.

Names in `defer` (artifacts an upstream job of the same batch chain has not published yet)
are left as written: the job resolves them when it runs, and kit-artifacts pins each use
(`used` events carry `art://NAME:vN`), so the job's tracker records the exact version.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs

__all__ = ["PinnedInput", "artifact_name", "escape_deferred", "pin_config"]

_ART_INTERPOLATION = re.compile(r"\$\{art:([^{}]*)\}")


@attrs.frozen
class PinnedInput:
    """One artifact input: as written in the config, and the exact version it pins to."""

    ref: str
    uri: str
    path: str
    type: str
    deferred: bool = False


Resolve = Callable[[str], PinnedInput]


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def pin_config(
    container: Any,
    resolve: Resolve,
    fixed: Mapping[str, str] | None = None,
    defer: Collection[str] = (),
) -> tuple[Any, list[PinnedInput]]:
    """Return a copy of `container` with every artifact reference pinned, and the inputs.

    `resolve(ref)` maps `art://NAME[:VER]` to its `PinnedInput`; `fixed` (a rerun's
    recorded `{ref: pinned uri}`) takes precedence so a moved alias cannot change inputs.
    References to a name in `defer` stay as written and are listed with `deferred=True`.
    """
    inputs: dict[str, PinnedInput] = {}
    deferred_names = frozenset(defer)

    def pin(ref: str) -> PinnedInput:
        if ref not in inputs:
            target = fixed.get(ref, ref) if fixed is not None else ref
            if target == ref and artifact_name(ref) in deferred_names:
                inputs[ref] = PinnedInput(ref=ref, uri=ref, path="", type="", deferred=True)
            else:
                inputs[ref] = attrs.evolve(resolve(target), ref=ref)
        return inputs[ref]

    def rewrite_interpolation(match: re.Match[str]) -> str:
        name_ver, comma, field = match.group(1).partition(",")
        pinned = pin("art://" + _strip_quotes(name_ver))
        if pinned.deferred:
            return match.group(0)
        bare = pinned.uri.removeprefix("art://")
        return "${art:" + bare + comma + field + "}"

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str):
            if node.startswith("art://") and "${" not in node:
                return _pin_uri(node, pin)
            if "${art:" in node:
                return _ART_INTERPOLATION.sub(rewrite_interpolation, node)
        return node

    return walk(container), list(inputs.values())


def escape_deferred(container: Any, deferred: Collection[str]) -> Any:
    """A copy of `container` whose `${art:...}` references to `deferred` names are escaped.

    For records that resolve the config now (kit-config's provenance): a deferred artifact
    does not exist yet, so its reference is kept as literal text instead of resolved.
    """
    names = frozenset(artifact_name(ref) for ref in deferred)

    def escape(match: re.Match[str]) -> str:
        name_ver = match.group(1).partition(",")[0]
        hit = artifact_name("art://" + _strip_quotes(name_ver)) in names
        return "\\" + match.group(0) if hit else match.group(0)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str) and "${art:" in node:
            return _ART_INTERPOLATION.sub(escape, node)
        return node

    return walk(container) if names else container


def artifact_name(ref: str) -> str:
    """The artifact name of `art://NAME[:VER][/SUB]` (the ref itself if it does not parse)."""
    from kit_artifacts import parse_art_uri

    try:
        parsed = parse_art_uri(ref)
    except ValueError:
        return ref
    return str(getattr(parsed, "name", ref))


def _pin_uri(uri: str, pin: Callable[[str], PinnedInput]) -> str:
    from kit_artifacts import parse_art_uri

    parsed = parse_art_uri(uri)
    if not hasattr(parsed, "subpath"):  # W&B form: pinned by W&B itself
        return uri
    subpath = getattr(parsed, "subpath", None)
    base = f"art://{parsed.name}" + (f":{parsed.version}" if parsed.version else "")
    pinned = pin(base)
    if pinned.deferred:
        return uri
    return pinned.uri + (f"/{subpath}" if subpath else "")
