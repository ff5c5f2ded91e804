"""The earlier kit's W&B helpers, on top of the tracker protocol.

`init_wandb_if_configured(cfg)` (a config or its `wandb` section; settings as
`WandbConfig`, over `WANDB_*`) does nothing without a project; with one it mirrors the
current run to W&B (or, outside `start_run`, opens a W&B run on its own).
`add_wandb_tags` and `finish_wandb` act on that mirror. All follow the failure policy:
W&B trouble is logged once and recorded, never raised into training code.
"""
from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable

from kit_config import RUN_ID_ENV, new_run_id, process_rank
from kit_track._env import utc_now
from kit_track._guard import ErrorBook, TrackerGuard
from kit_track._protocol import RunInfo
from kit_track._run import current_run, status_for_exit_code
from kit_track._wandb import WandbTracker
from kit_track._wandb_client import WandbClient
from kit_track._wandb_config import wandb_section

__all__ = ["add_wandb_tags", "finish_wandb", "init_wandb_if_configured", "wandb_errors"]

# W&B mirror opened outside a kit run (the earlier kit's standalone use).
_standalone: TrackerGuard | None = None
_standalone_book = ErrorBook()


def wandb_errors() -> tuple[object, ...]:
    """Failures of the standalone W&B mirror (inside a run they are in its record)."""
    return _standalone_book.records()


def init_wandb_if_configured(
    cfg: object = None,
    job_type: str | None = None,
    *,
    tags: Iterable[str] = (),
    client: WandbClient | None = None,
    mode: str | None = None,
    timeout_s: float = 8.0,
) -> WandbTracker | None:
    """Mirror to W&B when a project is configured, as the earlier kit did.

    `cfg` is the whole config (its `wandb` section is read), the `wandb` section itself
    (`init_wandb_if_configured(cfg.wandb, "pretrain")`), or None (then `WANDB_*` alone).
    Returns the tracker (check `.handle` to know whether W&B opened), or None when no
    project is configured, W&B is disabled, on a rank other than 0, or when W&B failed.
    """
    global _standalone
    wandb = wandb_section(cfg)
    all_tags = tuple(dict.fromkeys([*wandb.tags, *_flatten((tags,))]))
    mode = mode or wandb.mode
    if not wandb.project or mode == "disabled" or process_rank() != 0:
        return None
    project, entity = wandb.project, wandb.entity
    run = current_run()
    if run is not None:
        for tracker in run.trackers:
            if isinstance(tracker, WandbTracker):
                return tracker
    tracker = WandbTracker(
        project=project, entity=entity, client=client, mode=mode, timeout_s=timeout_s,
        job_type=job_type, group=wandb.group,
    )
    if run is not None:
        run.attach(tracker)
        if all_tags:
            run.add_tags(*all_tags)
        return tracker if tracker.handle is not None else None
    if _standalone is not None:
        finish_wandb(0)
    run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
    info = RunInfo(
        run_id=run_id, stage=job_type or "run", name=f"{job_type or 'run'}-{run_id}",
        tags=all_tags, argv=tuple(sys.argv), host=socket.gethostname(), pid=os.getpid(),
        started_at=utc_now(),
    )
    guard = TrackerGuard(tracker, _standalone_book)
    if not guard.call("start", tracker.start, info):
        return None
    _standalone = guard
    return tracker


def _flatten(items: Iterable[str | Iterable[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(str(tag) for tag in item)
    return tuple(dict.fromkeys(out))


def add_wandb_tags(*tags: str | Iterable[str]) -> None:
    """Add tags to the current run (all its trackers) or to the standalone W&B run.

    Takes several strings (`add_wandb_tags("a", "b")`) or a list, as the earlier kit's
    `add_wandb_tags(["data-prep", "pretrain"])`.
    """
    flat = _flatten(tags)
    run = current_run()
    if run is not None:
        run.add_tags(*flat)
    elif _standalone is not None:
        tracker = _standalone.tracker
        assert isinstance(tracker, WandbTracker)
        _standalone.call("add_tags", tracker.add_tags, flat)


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
