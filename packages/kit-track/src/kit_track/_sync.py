"""`sync`: replay local run records to W&B, idempotently.

Compute nodes are often offline; the FileTracker record is the source of truth. `sync`
opens (or resumes) the W&B run whose id is the kit run id, and sends only what
`wandb_sync.json` does not list yet: config, metric lines after the last synced one,
inputs (`use_artifact`, impossible offline), outputs, and the final status. Each part is
marked done as soon as W&B accepted it, so an interrupted sync resumes where it stopped
and a second sync creates nothing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from kit_track._credentials import wandb_api_key, wandb_host
from kit_track._records import RunRecord, list_runs, load_run
from kit_track._wandb import probe_wandb_server, provenance
from kit_track._wandb_client import RealWandbClient, WandbClient, WandbInitArgs
from kit_track._wandb_config import setting
from kit_track._wandb_state import SyncState, artifact_spec, load_state, save_state
from kit_track.errors import CredentialsError, SyncError

__all__ = ["SyncReport", "SyncedRun", "sync"]

_log = logging.getLogger("kit_track")


@attrs.frozen(kw_only=True)
class SyncedRun:
    """What one run sent to W&B in this sync."""

    run_id: str
    url: str | None
    config: bool
    metrics: int
    inputs: int
    outputs: int
    finished: bool


@attrs.frozen(kw_only=True)
class SyncReport:
    """Outcome of `sync`: runs sent, runs already up to date or skipped, runs that failed."""

    synced: tuple[SyncedRun, ...]
    skipped: tuple[tuple[str, str], ...]  # (run id, reason)
    failed: tuple[SyncError, ...]

    @property
    def ok(self) -> bool:
        """Whether no run failed."""
        return not self.failed


def _pending(record: RunRecord, state: SyncState) -> tuple[int, list[str], list[str]]:
    metrics = max(0, len(record.metrics()) - state.metrics)
    inputs = [u.uri for u in record.inputs if u.uri not in state.inputs]
    outputs = [u.uri for u in record.outputs if u.uri not in state.outputs]
    return metrics, inputs, outputs


def _sync_one(
    record: RunRecord, client: WandbClient, project: str, entity: str | None, timeout_s: float
) -> SyncedRun | None:
    state = load_state(record.run_dir)
    n_metrics, inputs, outputs = _pending(record, state)
    if state.config and not n_metrics and not inputs and not outputs and state.finished:
        return None
    args = WandbInitArgs(
        project=state.project or project,
        entity=state.entity or entity,
        run_id=record.run_id,
        name=record.name,
        config={**record.config, "_nemotron": provenance(record)},
        tags=record.tags,
        job_type=record.stage,
        mode="online",
        dir=str(Path(record.run_dir) / "wandb-sync"),
        timeout_s=timeout_s,
    )
    handle = client.init(args)
    state.project, state.entity, state.wandb_run_id = args.project, args.entity, handle.id
    state.url, state.config = handle.url, True
    save_state(record.run_dir, state)
    by_uri = {u.uri: u for u in (*record.inputs, *record.outputs)}
    try:
        for point in record.metrics()[state.metrics :]:
            values = {k: float(v) for k, v in point.metrics.items()}
            handle.log(values, point.step)
            state.metrics += 1
    finally:  # keep what W&B accepted, even if a later line failed
        save_state(record.run_dir, state)
    for uri in inputs:
        use = by_uri[uri]
        spec, _ = artifact_spec(uri, use.artifact_type, use.path, record.run_id)
        handle.use_artifact(spec)
        state.inputs.append(uri)
        save_state(record.run_dir, state)
    for uri in outputs:
        use = by_uri[uri]
        spec, aliases = artifact_spec(uri, use.artifact_type, use.path, record.run_id)
        handle.log_artifact(spec, aliases)
        state.outputs.append(uri)
        save_state(record.run_dir, state)
    handle.finish(record.exit_code or 0)
    state.finished = True
    save_state(record.run_dir, state)
    return SyncedRun(
        run_id=record.run_id, url=state.url, config=True, metrics=n_metrics,
        inputs=len(inputs), outputs=len(outputs), finished=True,
    )


def sync(
    run_ids: Sequence[str] = (),
    *,
    project: str | None = None,
    entity: str | None = None,
    client: WandbClient | None = None,
    root: str | Path | None = None,
    timeout_s: float = 8.0,
) -> SyncReport:
    """Replay finished local runs (all, or `run_ids`) to W&B; safe to run again.

    Raises `CredentialsError` when the real W&B is used without an API key, and
    ConnectionError when the server is unreachable; per-run failures are in the report.
    """
    if client is None:
        if not wandb_api_key():
            raise CredentialsError("W&B", "WANDB_API_KEY", wandb_host())
        probe_wandb_server(min(2.0, timeout_s))
        client = RealWandbClient()
    records = [load_run(r, root=root) for r in run_ids] if run_ids else list_runs(root=root)
    synced: list[SyncedRun] = []
    skipped: list[tuple[str, str]] = []
    failed: list[SyncError] = []
    for record in records:
        if record.status == "running":
            skipped.append((record.run_id, "still running"))
            continue
        chosen = (
            project
            or setting(record.config, "wandb", "project")
            or os.environ.get("WANDB_PROJECT")
        )
        if not chosen and not load_state(record.run_dir).project:
            skipped.append((record.run_id, "no W&B project (pass project= or set WANDB_PROJECT)"))
            continue
        chosen_entity = entity or setting(record.config, "wandb", "entity") or os.environ.get(
            "WANDB_ENTITY"
        )
        try:
            done = _sync_one(record, client, str(chosen or ""), chosen_entity, timeout_s)
        except Exception as exc:  # one bad run must not stop the others
            error = SyncError(record.run_id, f"{type(exc).__name__}: {exc}")
            _log.warning("%s", error)
            failed.append(error)
            continue
        if done is None:
            skipped.append((record.run_id, "up to date"))
        else:
            synced.append(done)
    return SyncReport(synced=tuple(synced), skipped=tuple(skipped), failed=tuple(failed))
