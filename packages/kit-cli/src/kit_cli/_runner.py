"""The one recipe-stage runner: compose -> pin inputs -> (dry run | provenance -> execute).

Every stage of every recipe goes through here; nothing is stage-specific (the earlier kit
copied this flow into each command file). Execution is a local subprocess
`python -m MODULE --config config.yaml`, or a kit-run job (`_jobspec`).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

from kit_cli._argv import parse_stage_argv
from kit_cli._launches import LaunchRecord, code_digest, launch_env, save_launch
from kit_cli._plan import JOB_CONFIG_NAME, StagePlan, plan_stage
from kit_cli.recipe import Recipe
from kit_config import atomic_write_text, mask_argv

__all__ = [
    "JOB_CONFIG_NAME",
    "StageLaunch",
    "StagePlan",
    "execute_plan",
    "launch_plan",
    "plan_stage",
    "render_plan",
    "report_error",
    "run_stage",
    "run_stage_job",
]


@attrs.frozen
class StageLaunch:
    """What launching a stage gave: its run, its job (when submitted) and its exit code.

    `exit_code` is the CLI's (0 ok, 1 the stage/job failed, 2 usage/input error);
    `stage_exit_code` the stage's own, when it ran to an end here.
    """

    exit_code: int
    mode: str
    run_id: str | None = None
    job_id: str | None = None
    scheduler_id: str | None = None
    launch_dir: Path | None = None
    stage_exit_code: int | None = None

    @property
    def ok(self) -> bool:
        """True when the stage succeeded (local/attached) or was submitted (batch)."""
        return self.exit_code == 0


def render_plan(plan: StagePlan) -> str:
    """The dry-run report: pinned config, inputs, executor and job script; secrets masked."""
    lines = [
        f"# dry run: nemotron {plan.recipe.name} {' '.join(plan.stage.command_path)}",
        f"# run id (would be): {plan.run_id}",
        f"# config: {plan.config_source or '(none)'}",
        f"# overrides: {' '.join(mask_argv(plan.args.overrides)) or '(none)'}",
        _code_line(plan),
    ]
    if plan.after:
        lines.append(f"# after job(s): {', '.join(plan.after)}")
    lines += ["", "## config (artifact refs pinned, secrets masked)", plan.config_yaml().rstrip(),
              "", "## inputs"]
    if not plan.inputs:
        lines.append("(none)")
    for item in plan.inputs:
        if item.deferred:
            lines.append(f"{item.ref} -> deferred: the job resolves and pins it when it runs")
        else:
            lines.append(f"{item.ref} -> {item.uri} [{item.type}] {item.path}")
    lines += ["", f"## execution: {plan.mode}"]
    placeholder = Path("<launch dir>") / JOB_CONFIG_NAME
    if plan.args.profile is None:
        command = [sys.executable, "-m", plan.stage.module, "--config", str(placeholder)]
        lines.append(" ".join(command))
    else:
        from kit_cli._jobspec import render_remote_dry_run

        lines.append(render_remote_dry_run(plan, placeholder))
    written = plan.args.dry_run_out
    wrote = f"report written to {written}" if written else "nothing was written"
    lines += ["", f"# nothing was submitted; {wrote}"]
    return "\n".join(lines) + "\n"


def _plan_code(plan: StagePlan) -> tuple[str | None, str | None]:
    """Digest of the code the plan runs (its job PEX when already built; builds nothing)."""
    pex = None
    if plan.args.profile is not None:
        from kit_cli._jobcode import planned_job_pex

        pex = planned_job_pex(plan.stage)[0]
    return code_digest(plan.stage.module, pex, local=plan.args.profile is None)


def _code_line(plan: StagePlan) -> str:
    digest, source = _plan_code(plan)
    commit = plan.git_commit or "not in git"
    return (f"# code: {commit}{' (dirty)' if plan.git_dirty else ''}, "
            f"digest {digest or '(when built)'} of {source}")


def _record(plan: StagePlan, rerun_of: str | None) -> LaunchRecord:
    digest, source = _plan_code(plan)
    return LaunchRecord(
        run_id=plan.run_id,
        recipe=plan.recipe.name,
        stage=" ".join(plan.stage.command_path),
        module=plan.stage.module,
        argv=mask_argv(plan.argv),
        overrides=mask_argv(plan.args.overrides),
        config_source=str(plan.config_source) if plan.config_source else None,
        profile=plan.args.profile,
        mode=plan.mode,
        pins=plan.pins,
        inputs=[attrs.asdict(item) for item in plan.inputs],
        git_commit=plan.git_commit,
        git_dirty=plan.git_dirty,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rerun_of=rerun_of,
        after=list(plan.after),
        deferred=list(plan.deferred),
        code_digest=digest,
        code_source=source,
    )


def launch_plan(plan: StagePlan, *, rerun_of: str | None = None) -> StageLaunch:
    """Save provenance and the launch record, then run or submit the stage.

    Input problems raise; a stage that ran and failed is reported in the returned
    `StageLaunch` (`exit_code` 1, `stage_exit_code` its own code), never raised.
    """
    from kit_config import save_provenance

    record = _record(plan, rerun_of)
    folder = save_launch(record)
    config_file = folder / JOB_CONFIG_NAME
    atomic_write_text(config_file, plan.config_yaml())
    # The pinned config as the job gets it, unresolved: the job resolves each input once;
    # resolving here as well would hit the registry again and record no lineage.
    save_provenance(
        folder / "provenance",
        config=plan.config,
        resolve=False,
        pins=plan.pins,
        overrides=mask_argv(plan.args.overrides),
        argv=mask_argv(plan.argv),
        sources=[plan.config_source] if plan.config_source else [],
    )
    _say(f"run {plan.run_id}: {plan.recipe.name} {' '.join(plan.stage.command_path)} "
         f"({plan.mode})")
    try:
        exit_code = _execute(plan, record, config_file)
    except BaseException:
        record.status = "failed"
        save_launch(record)
        raise
    record.exit_code = exit_code
    if record.status != "submitted":
        record.status = "succeeded" if exit_code == 0 else "failed"
    save_launch(record)
    return StageLaunch(
        exit_code=0 if exit_code == 0 else 1,
        mode=plan.mode,
        run_id=plan.run_id,
        job_id=record.job_id,
        scheduler_id=record.scheduler_id,
        launch_dir=folder,
        stage_exit_code=None if record.status == "submitted" else exit_code,
    )


def execute_plan(plan: StagePlan, *, rerun_of: str | None = None) -> int:
    """`launch_plan`, raising `StageFailedError` (exit code 1) when the stage failed."""
    from kit_cli.errors import StageFailedError

    launch = launch_plan(plan, rerun_of=rerun_of)
    if not launch.ok:
        raise StageFailedError(" ".join(plan.stage.command_path), plan.run_id,
                               launch.stage_exit_code, plan.mode)
    return 0


def _execute(plan: StagePlan, record: LaunchRecord, config_file: Path) -> int:
    if plan.args.profile is None:
        record.status = "running"
        save_launch(record)
        command = [sys.executable, "-m", plan.stage.module, "--config", str(config_file)]
        from kit_cli._discovery import env_file_path
        from kit_cli._wandb_env import wandb_env

        env = {**os.environ, **wandb_env(env_file_path()), **launch_env(record),
               "NEMOTRON_RUN_ID": plan.run_id}
        return subprocess.run(command, env=env, check=False).returncode
    from kit_cli._jobcode import job_pex
    from kit_cli._jobspec import job_spec
    from kit_run import load_env_profile, submit
    from kit_track import job_credentials

    profile = load_env_profile(plan.args.profile)
    spec = job_spec(plan, config_file, job_pex(plan.stage), profile)
    record.code_digest = spec.env.get("NEMOTRON_CODE_DIGEST", record.code_digest)
    handle = submit(spec, profile, attached=plan.args.attached, secrets=job_credentials())
    record.job_id = str(handle.job_id)
    record.scheduler_id = str(handle.scheduler_id) if handle.scheduler_id else None
    if not plan.args.attached:
        record.status = "submitted"
        _print_follow_up(handle.job_id, record.scheduler_id, plan.run_id)
        return 0
    return int(handle.exit_code if handle.exit_code is not None else 1)


def _print_follow_up(job_id: str, scheduler_id: str | None, run_id: str) -> None:
    slurm = f" (Slurm job {scheduler_id})" if scheduler_id else ""
    print(f"submitted job {job_id}{slurm} for run {run_id}", flush=True)
    for verb in ("status", "logs", "cancel"):
        print(f"  nemotron job {verb} {job_id}", flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_error(error: BaseException) -> int:
    """Print `error` as one line on stderr (traceback only with NEMOTRON_DEBUG=1); its code."""
    from kit_config.errors import KitError

    if os.environ.get("NEMOTRON_DEBUG") == "1":
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    if isinstance(error, KitError):
        _say(f"error: {error}")
        return int(error.exit_code)
    _say(f"internal error: {type(error).__name__}: {error} (set NEMOTRON_DEBUG=1 for details)")
    return 1


def _write_report(path: Path, report: str) -> None:
    from kit_cli.errors import UsageError

    try:
        atomic_write_text(path, report)
    except OSError as exc:
        raise UsageError(f"cannot write the dry-run report to {path}: {exc.strerror or exc}",
                         argument=str(path), hint="pass a writable file path") from exc


def run_stage_job(
    recipe: Recipe,
    stage_name: str,
    argv: Sequence[str],
    *,
    after: Sequence[str] = (),
    defer_inputs: Collection[str] = (),
) -> StageLaunch:
    """Parse `argv`, then dry-run, run or submit the stage; errors print as one line.

    `after`: job ids the stage's job waits for (Slurm `afterok` dependencies).
    `defer_inputs`: artifact names an upstream job publishes; left unpinned now, resolved
    and pinned by the job when it runs. The returned `StageLaunch` carries the job id.
    """
    mode = "local"
    try:
        args = parse_stage_argv(argv)
        mode = "local" if args.profile is None else ("attached" if args.attached else "batch")
        stage = recipe.stage(stage_name)
        plan = plan_stage(recipe, stage, args, argv, after=after, defer_inputs=defer_inputs)
        if args.dry_run:
            report = render_plan(plan)
            if args.dry_run_out:
                _write_report(Path(args.dry_run_out), report)
            sys.stdout.write(report)
            return StageLaunch(exit_code=0, mode=mode, run_id=plan.run_id)
        launch = launch_plan(plan)
        if not launch.ok:
            from kit_cli.errors import StageFailedError

            report_error(StageFailedError(" ".join(stage.command_path), plan.run_id,
                                          launch.stage_exit_code, plan.mode))
        return launch
    except Exception as error:
        return StageLaunch(exit_code=report_error(error), mode=mode)


def run_stage(
    recipe: Recipe,
    stage_name: str,
    argv: Sequence[str],
    *,
    after: Sequence[str] = (),
    defer_inputs: Collection[str] = (),
) -> int:
    """`run_stage_job(...).exit_code`: 0 success, 1 the stage or job failed, 2 bad input."""
    return run_stage_job(recipe, stage_name, argv, after=after,
                         defer_inputs=defer_inputs).exit_code
