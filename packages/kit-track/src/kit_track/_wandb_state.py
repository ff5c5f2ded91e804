"""What of a local run record is already on W&B: `wandb_sync.json` in the run directory.

Written by the online `WandbTracker` as it mirrors, and by `sync` as it replays, so
running `sync` twice (or after an online run) creates nothing twice.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from kit_config import atomic_write_json
from kit_track._jsonio import read_json
from kit_track._wandb_client import WandbArtifactSpec

__all__ = ["STATE_FILE", "SyncState", "artifact_spec", "load_state", "save_state"]

STATE_FILE = "wandb_sync.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@attrs.define(kw_only=True)
class SyncState:
    """Which parts of one run are on W&B."""

    project: str | None = None
    entity: str | None = None
    wandb_run_id: str | None = None
    url: str | None = None
    config: bool = False
    metrics: int = 0  # metric lines (of rank 0) mirrored, counted from the first
    inputs: list[str] = attrs.field(factory=list)
    outputs: list[str] = attrs.field(factory=list)
    finished: bool = False


def load_state(run_dir: str | Path | None) -> SyncState:
    """The state of a run directory (empty when never synced)."""
    if run_dir is None:
        return SyncState()
    path = Path(run_dir) / STATE_FILE
    if not path.exists():
        return SyncState()
    data: dict[str, Any] = read_json(path)
    known = {f.name for f in attrs.fields(SyncState)}
    return SyncState(**{k: v for k, v in data.items() if k in known})


def save_state(run_dir: str | Path | None, state: SyncState) -> None:
    """Write the state atomically (no-op without a run directory)."""
    if run_dir is not None:
        atomic_write_json(Path(run_dir) / STATE_FILE, attrs.asdict(state))


def artifact_spec(uri: str, artifact_type: str, path: str, run_id: str) -> tuple[
    WandbArtifactSpec, tuple[str, ...]
]:
    """The W&B reference artifact (and aliases) that mirrors one kit artifact.

    A registry version `art://name:vN` becomes W&B artifact `name` with alias `kit-vN`
    (W&B numbers its own versions, so ours ride along as an alias and in metadata).
    """
    from kit_artifacts import ArtURI, parse_art_uri

    try:
        parsed = parse_art_uri(uri)
    except ValueError:  # an external URI, not a registry one
        parsed = None
    if isinstance(parsed, ArtURI) and parsed.pinned_version and not parsed.subpath:
        name = parsed.name
        aliases: tuple[str, ...] = (f"kit-v{parsed.pinned_version}",)
    else:
        name = _UNSAFE.sub("-", uri.split("://", 1)[-1]).strip("-.")[:120] or "artifact"
        aliases = ()
    if "://" in path:
        reference = path
    elif path:
        reference = "file://" + str(Path(path).resolve())
    else:
        reference = uri
    metadata = {"kit_uri": uri, "kit_type": artifact_type, "path": path, "kit_run_id": run_id}
    spec = WandbArtifactSpec(
        name=name, type=_UNSAFE.sub("-", artifact_type) or "artifact", reference=reference,
        metadata=metadata,
    )
    return spec, aliases
