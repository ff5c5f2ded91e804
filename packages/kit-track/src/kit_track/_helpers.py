"""The earlier kit's W&B helpers, on top of the tracker protocol.

`init_wandb_if_configured(cfg)` does nothing without a project; with one it mirrors the
current run to W&B (or, outside `start_run`, opens a W&B run on its own).
`add_wandb_tags` and `finish_wandb` act on that mirror. All follow the failure policy:
W&B trouble is logged once and recorded, never raised into training code.
"""
from __future__ import annotations

import os
import sys

from kit_config import RUN_ID_ENV, new_run_id, process_rank
from kit_track._env import host_name, utc_now
from kit_track._guard import ErrorBook, TrackerGuard
from kit_track._protocol import RunInfo
from kit_track._run import current_run, status_for_exit_code
from kit_track._selection import setting
from kit_track._wandb import WandbTracker
from kit_track._wandb_client import WandbClient

__all__ = ["add_wandb_tags", "finish_wandb", "init_wandb_if_configured", "wandb_errors"]

# W&B mirror opened outside a kit run (the earlier kit's standalone use).
_standalone: TrackerGuard | None = None
_standalone_book = ErrorBook()


def wandb_errors() -> tuple[object, ...]:
    """Failures of the standalone W&B mirror (inside a run they are in its record)."""
    return _standalone_book.records()


def init_wandb_if_configured(
    cfg: object = None,
    *,
    job_type: str | None = None,
    tags: tuple[str, ...] = (),
    client: WandbClient | None = None,
    mode: str | None = None,
    timeout_s: float = 8.0,
) -> WandbTracker | None:
    """Mirror to W&B when a project is configured (`cfg.wandb.project` or `WANDB_PROJECT`).

    Returns the tracker (check `.handle` to know whether W&B opened), or None when no
    project is configured, on a rank other than 0, or when W&B failed to start.
    """
    global _standalone
    project = setting(cfg, "wandb", "project") or os.environ.get("WANDB_PROJECT")
    if not project or process_rank() != 0:
        return None
    entity = setting(cfg, "wandb", "entity")
    run = current_run()
    if run is not None:
        for tracker in run.trackers:
            if isinstance(tracker, WandbTracker):
                return tracker
    tracker = WandbTracker(
        project=str(project), entity=str(entity) if entity else None, client=client,
        mode=mode, timeout_s=timeout_s, job_type=job_type,
    )
    if run is not None:
        run.attach(tracker)
        if tags:
            run.add_tags(*tags)
        return tracker if tracker.handle is not None else None
    if _standalone is not None:
        finish_wandb(0)
    run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
    info = RunInfo(
        run_id=run_id, stage=job_type or "run", name=f"{job_type or 'run'}-{run_id}",
        tags=tuple(tags), argv=tuple(sys.argv), host=host_name(), pid=os.getpid(),
        started_at=utc_now(),
    )
    guard = TrackerGuard(tracker, _standalone_book)
    if not guard.call("start", tracker.start, info):
        return None
    _standalone = guard
    return tracker


def add_wandb_tags(*tags: str) -> None:
    """Add tags to the current run (all its trackers) or to the standalone W&B run."""
    run = current_run()
    if run is not None:
        run.add_tags(*tags)
    elif _standalone is not None:
        tracker = _standalone.tracker
        assert isinstance(tracker, WandbTracker)
        _standalone.call("add_tags", tracker.add_tags, tuple(tags))


def finish_wandb(exit_code: int = 0) -> None:
    """Finish the W&B mirror with `exit_code` (the kit run itself keeps going)."""
    global _standalone
    status = status_for_exit_code(exit_code)
    run = current_run()
    if run is not None:
        for tracker in run.trackers:
            if isinstance(tracker, WandbTracker):
                run.close_tracker(tracker, status, exit_code)
    if _standalone is not None:
        guard, _standalone = _standalone, None
        guard.call("finish", guard.tracker.finish, status, exit_code)
