"""`nemotron sync [RUN_ID...]`: replay local run records to W&B (kit-track's `sync`).

Compute nodes are often offline: their FileTracker records are the source of truth, and
this command sends them to W&B later, from a machine that reaches it. It is idempotent
(kit-track remembers what each run already sent), so running it again only sends what is
new. Exit 0 when no run failed, 1 when one did, 2 for input errors (no credentials, an
unknown run id).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from kit_cli._app_shared import guarded

if TYPE_CHECKING:
    from kit_track import SyncReport, WandbClient

__all__ = ["format_sync_report", "sync_command", "wandb_client"]


def _real_client() -> WandbClient | None:
    return None  # None: kit_track.sync checks the credentials and opens the real W&B


# Where the W&B client comes from: the real one by default; tests put kit-track's
# in-library `FakeWandbClient` here (the W&B boundary's fake), never a mock of `sync`.
wandb_client: Callable[[], WandbClient | None] = _real_client


def format_sync_report(report: SyncReport) -> list[str]:
    """The report as lines: one per run (synced / skipped / failed, with why), then totals."""
    lines: list[str] = []
    for run in report.synced:
        lines.append(f"synced\t{run.run_id}\tmetrics={run.metrics} inputs={run.inputs} "
                     f"outputs={run.outputs}\t{run.url or '(no url)'}")
    for run_id, reason in report.skipped:
        lines.append(f"skipped\t{run_id}\t{reason}")
    for error in report.failed:
        lines.append(f"failed\t{error.run_id}\t{error.reason}")
    lines.append(f"sync: {len(report.synced)} synced, {len(report.skipped)} skipped, "
                 f"{len(report.failed)} failed")
    return lines


@guarded
def sync_command(
    run_ids: Annotated[list[str] | None, typer.Argument(
        metavar="[RUN_ID]...", show_default=False,
        help="Runs to sync (default: every finished run in $NEMOTRON_HOME/runs).")] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", metavar="P",
        help="W&B project (default: the run's wandb.project, then WANDB_PROJECT, then "
             "env.toml [wandb] project).")] = None,
    entity: Annotated[str | None, typer.Option(
        "--entity", "-e", metavar="E",
        help="W&B entity (default: the run's wandb.entity, then WANDB_ENTITY).")] = None,
) -> None:
    """Send local run records (config, metrics, artifacts, status) to W&B; safe to repeat."""
    from kit_cli._discovery import env_file_path
    from kit_cli._wandb_env import wandb_env_defaults
    from kit_track import sync

    try:
        # env.toml [wandb] fills in for runs whose record names no project.
        with wandb_env_defaults(env_file_path()):
            report = sync(tuple(run_ids or ()), project=project, entity=entity,
                          client=wandb_client())
    except ConnectionError as error:
        # A network problem, not an input error: the records stay and a later sync resumes.
        typer.echo(f"error: {error}; check WANDB_BASE_URL and the network, or run "
                   "`nemotron sync` later from a machine that reaches W&B", err=True)
        raise typer.Exit(1) from None
    for line in format_sync_report(report):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)
