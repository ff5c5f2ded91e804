"""Artifact references inside a config: find them and pin them to exact versions.

A config names an artifact in two ways: a `${art:SPEC[,FIELD]}` interpolation or a plain
`art://SPEC` string. This module only locates them in text; SPEC itself is always parsed by
`parse_art_uri` (`_uri.py`), so there is one grammar. Pinning rewrites SPEC to `NAME:vN`
and leaves interpolations unresolved: the job resolves them itself, inside its tracked run,
which is how the run hears which inputs it used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs

from kit_artifacts._uri import ArtURI, parse_art_uri

__all__ = ["PinnedInput", "escape_refs", "find_refs", "pin_refs"]

# `${art:` up to the closing brace of an interpolation without nested ones.
_INTERPOLATION = re.compile(r"\$\{art:([^{}]*)\}")


@attrs.frozen
class PinnedInput:
    """One artifact input: as written in the config (`ref`) and the version it pins to."""

    ref: str
    uri: str
    path: str
    type: str
    deferred: bool = False

    @property
    def name(self) -> str:
        """The artifact name (`ref` without scheme, version and subpath)."""
        return parse_art_uri(self.ref).name


Resolve = Callable[[str], PinnedInput]


def _spec(text: str) -> str:
    """The SPEC of an interpolation body `SPEC[,FIELD]`, unquoted, as an `art://` URI."""
    spec = text.partition(",")[0].strip()
    if len(spec) >= 2 and spec[0] == spec[-1] and spec[0] in "'\"":
        spec = spec[1:-1]
    return spec if spec.startswith("art://") else "art://" + spec


def _registry_uri(uri: str) -> ArtURI | None:
    """The parsed registry URI; None for the W&B form (W&B pins those itself).

    Raises `ArtifactURIError` when `uri` does not parse: a bad reference fails at plan time.
    """
    parsed = parse_art_uri(uri)
    return parsed if isinstance(parsed, ArtURI) else None


def _map_strings(node: Any, fn: Callable[[str], str]) -> Any:
    """A copy of a plain config (mappings, lists) with `fn` applied to every string."""
    if isinstance(node, Mapping):
        return {key: _map_strings(value, fn) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_strings(value, fn) for value in node]
    return fn(node) if isinstance(node, str) else node


def find_refs(container: Any) -> tuple[str, ...]:
    """Every registry reference in a plain config, as `art://NAME[:VER]`, first-seen order.

    Raises `ArtifactURIError` for a reference that does not parse. W&B URIs are left out.
    """
    _, inputs = pin_refs(container, lambda ref: PinnedInput(ref, ref, "", ""))
    return tuple(item.ref for item in inputs)


def _default_resolve(ref: str) -> PinnedInput:
    from kit_artifacts._registry import get_registry

    found = get_registry().resolve(ref)
    return PinnedInput(ref=ref, uri=found.uri, path=str(found.path), type=str(found.type))


def pin_refs(
    container: Any,
    resolve: Resolve | None = None,
    *,
    fixed: Mapping[str, str] | None = None,
    defer: Collection[str] = (),
) -> tuple[Any, list[PinnedInput]]:
    """A copy of `container` with every reference pinned to `NAME:vN`, and its inputs.

    Each distinct reference is resolved once, by `resolve` (default: the registry).
    `fixed` (a rerun's recorded `{ref: pinned uri}`) wins, so a moved alias cannot change
    an input. References to an artifact NAME in `defer` (published later by an upstream
    job of the same chain) stay as written and are listed with `deferred=True`.
    """
    resolve = resolve or _default_resolve
    inputs: dict[str, PinnedInput] = {}
    deferred = frozenset(defer)

    def pin(ref: str) -> PinnedInput:
        if ref not in inputs:
            target = fixed.get(ref, ref) if fixed is not None else ref
            if target == ref and parse_art_uri(ref).name in deferred:
                inputs[ref] = PinnedInput(ref=ref, uri=ref, path="", type="", deferred=True)
            else:
                inputs[ref] = attrs.evolve(resolve(target), ref=ref)
        return inputs[ref]

    def pin_uri(uri: str) -> str | None:
        """`uri` with its version pinned (subpath kept); None when deferred or W&B."""
        parsed = _registry_uri(uri)
        if parsed is None:
            return None
        pinned = pin(str(ArtURI(parsed.name, parsed.version)))
        if pinned.deferred:
            return None
        return pinned.uri + (f"/{parsed.subpath}" if parsed.subpath else "")

    def rewrite(match: re.Match[str]) -> str:
        _, comma, field = match.group(1).partition(",")
        uri = pin_uri(_spec(match.group(1)))
        if uri is None:
            return match.group(0)
        return "${art:" + uri.removeprefix("art://") + comma + field + "}"

    def pin_text(text: str) -> str:
        if text.startswith("art://") and "${" not in text:
            return pin_uri(text) or text
        return _INTERPOLATION.sub(rewrite, text) if "${art:" in text else text

    return _map_strings(container, pin_text), list(inputs.values())


def escape_refs(container: Any, names: Collection[str]) -> Any:
    """A copy of `container` whose `${art:...}` references to artifact `names` are literal text.

    For checking a config before an upstream job has published those artifacts: OmegaConf
    keeps an escaped `\\${art:...}` as the text `${art:...}` instead of resolving it.
    """
    wanted = frozenset(names)

    def escape(match: re.Match[str]) -> str:
        parsed = _registry_uri(_spec(match.group(1)))
        hit = parsed is not None and parsed.name in wanted
        return "\\" + match.group(0) if hit else match.group(0)

    if not wanted:
        return container
    return _map_strings(container, lambda text: _INTERPOLATION.sub(escape, text))
