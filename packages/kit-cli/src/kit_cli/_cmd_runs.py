"""`nemotron runs ls|show|report` (launch records, kit-track's run records), `nemotron rerun`."""
from __future__ import annotations

from typing import Annotated, Any

import typer

from kit_cli._app_shared import complete_profile, echo_json, guarded

__all__ = ["rerun_command", "runs_app"]

runs_app = typer.Typer(help="Runs launched by this CLI and recorded by trackers.",
                       no_args_is_help=True)


def _tracked() -> dict[str, Any]:
    try:
        from kit_track import list_runs

        return {record.run_id: record for record in list_runs()}
    except Exception:  # no or unreadable runs folder: only launch records are listed
        return {}


@runs_app.command("ls")
@guarded
def runs_ls() -> None:
    """List runs, newest first: launched by this CLI and/or recorded by kit-track."""
    from kit_cli._launches import list_launches

    launches = {record.run_id: record for record in list_launches()}
    tracked: dict[str, Any] = _tracked()
    for run_id in sorted(set(launches) | set(tracked), reverse=True):
        launch, run = launches.get(run_id), tracked.get(run_id)
        run_any: Any = run
        if launch is None:
            stage, where, status, job = str(run_any.stage), "direct", str(run_any.status), ""
        else:
            stage = f"{launch.recipe} {launch.stage}"
            where = launch.mode + (f":{launch.profile}" if launch.profile else "")
            status = str(run.status) if run is not None else launch.status
            job = launch.job_id or ""
        outputs = " ".join(u.uri for u in run.outputs) if run is not None else ""
        typer.echo("\t".join([run_id, stage, where, status, job, outputs]).rstrip())


@runs_app.command("show")
@guarded
def runs_show(run_id: str) -> None:
    """Show a run: its launch record and pinned config, and kit-track's record of it."""
    from kit_cli._launches import load_launch
    from kit_cli._plan import JOB_CONFIG_NAME
    from kit_cli.errors import RunRecordNotFoundError

    launch: Any = None
    try:
        launch = load_launch(run_id)
    except RunRecordNotFoundError:
        launch = None
    tracked: Any = None
    try:
        from kit_track import load_run

        tracked = load_run(run_id)
    except Exception:  # the stage may not have started its tracker (yet)
        tracked = None
    if launch is None and tracked is None:
        from kit_config import home_dir

        raise RunRecordNotFoundError(run_id, str(home_dir("launches")))
    echo_json({"launch": launch, "tracker": tracked})
    if launch is not None:
        config = launch.directory / JOB_CONFIG_NAME
        if config.is_file():
            typer.echo(f"# {config}")
            typer.echo(config.read_text(encoding="utf-8"), nl=False)


@runs_app.command("report")
@guarded
def runs_report(
    run_id: str,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write to FILE (default $NEMOTRON_HOME/reports/run-ID.html).")
    ] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify", help="Do not re-hash artifact files (integrity 'not checked').")] = False,
) -> None:
    """Write one offline HTML page: the run's lineage, metric curves and records."""
    from kit_cli._report import write_run_report

    typer.echo(f"wrote {write_run_report(run_id, output, verify=not no_verify)}")


@guarded
def rerun_command(
    run_id: str,
    run: Annotated[str | None, typer.Option("-r", "--run", autocompletion=complete_profile,
                                            help="Run attached under PROFILE.")] = None,
    batch: Annotated[str | None, typer.Option("-b", "--batch", autocompletion=complete_profile,
                                              help="Submit detached under PROFILE.")] = None,
    dry_run: Annotated[bool, typer.Option("-d", "--dry-run")] = False,
    allow_code_change: Annotated[bool, typer.Option(
        help="Run even if the checkout is not at the recorded commit.")] = False,
) -> None:
    """Rerun RUN_ID: same recomposed config, same pinned inputs, same code version."""
    from kit_cli._rerun import rerun
    from kit_cli.errors import UsageError

    if run and batch:
        raise UsageError("--run and --batch exclude each other")
    code = rerun(run_id, run=run, batch=batch, dry_run=dry_run,
                 allow_code_change=allow_code_change)
    if code:
        raise typer.Exit(code)
