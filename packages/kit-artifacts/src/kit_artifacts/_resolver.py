"""The `${art:NAME[:VER][/SUB][,FIELD]}` OmegaConf resolver.

It resolves to the version's data path (plus SUBPATH), or to FIELD (`uri`, `version`, `name`,
`type`, `path`, or any typed/metadata field). The first resolution of a floating reference
(`latest`, an alias) pins that version for the rest of the process, so one config never
mixes two versions of an input; every resolution is recorded as a `used` input.
"""

from __future__ import annotations

import threading
from typing import Any

from kit_artifacts._records import resolve_remote
from kit_artifacts._registry import get_registry
from kit_artifacts._uri import ArtURI, parse_art_uri
from kit_artifacts.errors import ArtifactURIError

__all__ = [
    "clear_pins",
    "pinned_refs",
    "resolve_art",
]

_pins: dict[tuple[str, str, str], str] = {}  # (registry root, name, version) -> pinned uri
_lock = threading.Lock()


def pinned_refs() -> dict[str, str]:
    """`name:version-as-written` -> pinned `art://name:vN`, for everything resolved so far."""
    with _lock:
        return {f"{name}:{ver}": uri for (_root, name, ver), uri in sorted(_pins.items())}


def clear_pins() -> None:
    """Forget pinned versions (a new run in the same process)."""
    with _lock:
        _pins.clear()


def resolve_art(*args: Any) -> Any:
    """OmegaConf resolver body: `${art:SPEC}` or `${art:SPEC,FIELD}`."""
    if len(args) not in (1, 2) or not isinstance(args[0], str):
        raise ArtifactURIError(
            f"bad ${{art:...}} arguments {args!r}",
            uri=repr(args),
            hint="use ${art:NAME[:VERSION][/SUBPATH][,FIELD]}",
        )
    spec = args[0].strip()
    field = str(args[1]).strip() if len(args) == 2 else None
    uri = spec if spec.startswith("art://") else "art://" + spec
    remote = resolve_remote(uri)
    if remote is not None:
        if field not in (None, "path"):
            raise ArtifactURIError(
                f"field {field!r} of W&B artifact {uri} is not available",
                uri=uri,
                hint="only the path of a W&B artifact can be interpolated",
            )
        return remote
    parsed = parse_art_uri(uri)
    assert isinstance(parsed, ArtURI)
    registry = get_registry()
    key = (registry.root, parsed.name, parsed.version or "latest")
    with _lock:
        pinned = _pins.get(key)
    target = pinned or str(ArtURI(parsed.name, parsed.version))
    ref = registry.resolve(target)
    with _lock:
        _pins.setdefault(key, ref.uri)
    registry.note_used(ref)
    ref_path = f"{ref.path.rstrip('/')}/{parsed.subpath}" if parsed.subpath else ref.path
    special = {"name": ref.name, "path": ref_path, "type": ref.type, "uri": ref.uri,
               "version": ref.version}
    if field is None or field in special:
        return special[field or "path"]
    body = registry.record(ref).artifact
    if field in body and field not in ("metadata", "tracking"):
        return body[field]
    meta = body.get("metadata") or {}
    if field in meta:
        return meta[field]
    known = sorted({*special, *(k for k in body if k not in ("metadata", "tracking")), *meta})
    raise ArtifactURIError(
        f"{ref.uri} has no field {field!r}",
        uri=f"{uri},{field}",
        hint=f"known fields: {', '.join(known)}",
    )
