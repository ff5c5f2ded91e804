"""`nemotron job ls|status|logs|cancel` and `nemotron env ls|show|check` (through kit-run)."""
from __future__ import annotations

import time
from typing import Annotated

import typer

from kit_cli._app_shared import complete_profile, echo_json, guarded

__all__ = ["env_app", "job_app"]

job_app = typer.Typer(help="Follow and control submitted jobs.", no_args_is_help=True)
env_app = typer.Typer(help="Execution profiles from env.toml.", no_args_is_help=True)

JobId = Annotated[str, typer.Argument(help="kit job id, experiment id or Slurm job id")]


@job_app.command("ls")
@guarded
def job_ls(
    status: Annotated[bool, typer.Option("--status", "-s",
                                         help="Ask the scheduler for each job's state.")] = False,
) -> None:
    """List submitted jobs, oldest first: job id, name, profile, Slurm id, submit time."""
    from kit_run import job_status, list_jobs

    for job in list_jobs():
        submitted = job.get("submitted_at")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(submitted))) \
            if isinstance(submitted, int | float) else "?"
        row = [str(job.get("job_id")), str(job.get("name")), str(job.get("profile")),
               str(job.get("scheduler_id") or "-"), when]
        if status:
            try:
                row.append(job_status(str(job["job_id"])).state)
            except Exception as error:  # one unreachable cluster must not hide the others
                row.append(f"UNKNOWN ({type(error).__name__})")
        typer.echo("\t".join(row))


@job_app.command("status")
@guarded
def job_status_command(job_id: JobId) -> None:
    """Show the state of a job (JSON); exit 1 when it failed or was cancelled."""
    from kit_run import job_status

    status = job_status(job_id)
    echo_json(status)
    if status.state in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


@job_app.command("logs")
@guarded
def job_logs_command(
    job_id: JobId,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until it ends.")] = False,
) -> None:
    """Print the output of a job so far (or follow it until the job ends)."""
    from kit_run import job_logs

    for chunk in job_logs(job_id, follow=follow):
        typer.echo(chunk, nl=False)


@job_app.command("cancel")
@guarded
def job_cancel(job_id: JobId) -> None:
    """Cancel a job and wait (up to 30 s) until the scheduler reports it ended."""
    from kit_run import cancel_job

    final = cancel_job(job_id)
    typer.echo(f"{final.job_id}\t{final.state}")


@env_app.command("ls")
@guarded
def env_ls() -> None:
    """List the profiles of env.toml with their executor (not validated: see `env check`)."""
    from kit_cli._profiles import profile_summaries
    from kit_run import find_env_file, list_profiles

    summaries = profile_summaries()
    typer.echo(f"# {find_env_file()}", err=True)
    for name in list_profiles():
        typer.echo(f"{name}\t{summaries.get(name, '')}")


@env_app.command("show")
@guarded
def env_show(name: Annotated[str, typer.Argument(autocompletion=complete_profile)]) -> None:
    """Show one profile after `extends` is applied (JSON, secrets masked)."""
    from kit_config import mask_secrets, plain_data
    from kit_run import load_env_profile

    echo_json(mask_secrets(plain_data(load_env_profile(name))))


@env_app.command("check")
@guarded
def env_check(name: Annotated[str | None, typer.Argument(autocompletion=complete_profile)]
              = None) -> None:
    """Validate every profile (or NAME) and its executor's install; exit 2 on any problem."""
    from kit_config.errors import KitError
    from kit_run import check_executor_available, list_profiles, load_env_profile

    failures = 0
    for profile_name in [name] if name else list_profiles():
        try:
            profile = load_env_profile(profile_name)
            check_executor_available(profile.executor)
            typer.echo(f"ok\t{profile_name}\t{profile.executor}")
        except KitError as error:
            failures += 1
            typer.echo(f"error\t{profile_name}\t{error}", err=True)
    if failures:
        raise typer.Exit(2)
