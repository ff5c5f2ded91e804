"""The one recipe-stage runner: compose -> pin inputs -> (dry run | provenance -> execute).

Every stage of every recipe goes through `run_stage`; nothing here is stage-specific (the
earlier kit copied this flow into each command file). Execution is a subprocess
`python -m MODULE --config RESOLVED.yaml [-- args]` locally, or a kit-run job remotely.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from kit_cli._argv import StageArgs, parse_stage_argv
from kit_cli._launches import LaunchRecord, atomic_write_text, code_version, save_launch
from kit_cli._pinning import PinnedInput, pin_config
from kit_cli.recipe import Recipe, Stage

__all__ = [
    "StagePlan",
    "execute_plan",
    "mask_argv",
    "plan_stage",
    "render_plan",
    "report_error",
    "run_stage",
]

JOB_CONFIG_NAME = "config.yaml"


@attrs.frozen
class StagePlan:
    """Everything decided before a stage runs; building one writes and submits nothing."""

    recipe: Recipe
    stage: Stage
    args: StageArgs
    argv: tuple[str, ...]
    run_id: str
    config_source: Path | None
    config: Any  # the pinned, secret-free config as a plain container
    inputs: tuple[PinnedInput, ...]
    git_commit: str | None
    git_dirty: bool | None

    @property
    def mode(self) -> str:
        """`local`, `attached` (`--run`) or `batch` (`--batch`)."""
        if self.args.profile is None:
            return "local"
        return "attached" if self.args.attached else "batch"

    def config_yaml(self) -> str:
        """The pinned config as YAML: exactly what the stage receives."""
        from omegaconf import OmegaConf

        return OmegaConf.to_yaml(OmegaConf.create(self.config))


def _resolve_input(ref: str) -> PinnedInput:
    from kit_artifacts import get_registry

    found = get_registry().resolve(ref)
    return PinnedInput(ref=ref, uri=found.uri, path=str(found.path), type=str(found.type))


def plan_stage(
    recipe: Recipe,
    stage: Stage,
    args: StageArgs,
    argv: Sequence[str],
    *,
    run_id: str | None = None,
    fixed_pins: Mapping[str, str] | None = None,
    config_source: Path | None = None,
    composed: Any = None,
) -> StagePlan:
    """Compose the config, pin its artifact inputs and find the code version."""
    from omegaconf import OmegaConf

    from kit_cli._launches import new_run_id
    from kit_config import compose, mask_secrets

    if composed is None:
        config_source = stage.resolve_config(args.config)
        composed = compose(config_source, args.overrides)
    container = OmegaConf.to_container(composed, resolve=False)
    pinned, inputs = pin_config(container, _resolve_input, fixed_pins)
    spec = importlib.util.find_spec(stage.module)
    if spec is None:
        from kit_cli.errors import RecipeLoadError

        raise RecipeLoadError(recipe.name, stage.module, f"stage {stage.name}", "module not found")
    commit, dirty = code_version(spec.origin)
    return StagePlan(
        recipe=recipe,
        stage=stage,
        args=args,
        argv=tuple(argv),
        run_id=run_id or new_run_id(),
        config_source=config_source,
        config=mask_secrets(pinned),
        inputs=tuple(inputs),
        git_commit=commit,
        git_dirty=dirty,
    )


def _job_spec(plan: StagePlan, config_file: Path) -> Any:
    from kit_run import JobSpec, PexPackager

    packager = PexPackager(Path(plan.stage.job_target)) if plan.stage.job_target else None
    return JobSpec(
        name=f"{plan.recipe.name}-{plan.stage.name}",
        command=[
            "python", "-m", plan.stage.module, "--config", JOB_CONFIG_NAME,
            *plan.args.passthrough,
        ],
        env={"NEMOTRON_RUN_ID": plan.run_id},
        files={JOB_CONFIG_NAME: config_file},
        packager=packager,
    )


def render_plan(plan: StagePlan) -> str:
    """The dry-run report: pinned config, inputs, executor and job script; secrets masked."""
    lines = [
        f"# dry run: nemotron {plan.recipe.name} {' '.join(plan.stage.command_path)}",
        f"# run id (would be): {plan.run_id}",
        f"# config: {plan.config_source or '(none)'}",
        f"# overrides: {' '.join(mask_argv(plan.args.overrides)) or '(none)'}",
        f"# code: {plan.git_commit or 'not in git'}{' (dirty)' if plan.git_dirty else ''}",
        "",
        "## config (artifact refs pinned, secrets masked)",
        plan.config_yaml().rstrip(),
        "",
        "## inputs",
    ]
    if not plan.inputs:
        lines.append("(none)")
    for item in plan.inputs:
        lines.append(f"{item.ref} -> {item.uri} [{item.type}] {item.path}")
    lines += ["", f"## execution: {plan.mode}"]
    placeholder = Path("<launch dir>") / JOB_CONFIG_NAME
    if plan.args.profile is None:
        command = [sys.executable, "-m", plan.stage.module, "--config", str(placeholder)]
        lines.append(" ".join([*command, *plan.args.passthrough]))
    else:
        from kit_config import mask_secrets
        from kit_run import load_env_profile, render_dry_run

        profile = load_env_profile(plan.args.profile)
        lines.append(str(mask_secrets(render_dry_run(_job_spec(plan, placeholder), profile))))
    lines += ["", "# nothing was written or submitted"]
    return "\n".join(lines) + "\n"


def mask_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with the value of every secret-keyed override (`api_key=...`) masked."""
    from kit_config import is_secret_key

    masked = []
    for arg in argv:
        key, eq, _ = arg.partition("=")
        leaf = key.lstrip("+~").rsplit(".", 1)[-1]
        masked.append(f"{key}=***" if eq and leaf and is_secret_key(leaf) else arg)
    return masked


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def execute_plan(plan: StagePlan, *, rerun_of: str | None = None) -> int:
    """Save provenance and the launch record, then run or submit; 0 on success.

    Raises `StageFailedError` (exit code 1) when the stage or job exits non-zero.
    """
    from omegaconf import OmegaConf

    from kit_cli.errors import StageFailedError
    from kit_config import save_provenance

    record = LaunchRecord(
        run_id=plan.run_id,
        recipe=plan.recipe.name,
        stage=plan.stage.name,
        module=plan.stage.module,
        argv=mask_argv(plan.argv),
        overrides=mask_argv(plan.args.overrides),
        passthrough=list(plan.args.passthrough),
        config_source=str(plan.config_source) if plan.config_source else None,
        profile=plan.args.profile,
        mode=plan.mode,
        pins={item.ref: item.uri for item in plan.inputs},
        inputs=[attrs.asdict(item) for item in plan.inputs],
        git_commit=plan.git_commit,
        git_dirty=plan.git_dirty,
        created_at=_now(),
        rerun_of=rerun_of,
    )
    folder = save_launch(record)
    config_file = folder / JOB_CONFIG_NAME
    atomic_write_text(config_file, plan.config_yaml())
    save_provenance(
        folder / "provenance",
        config=OmegaConf.create(plan.config),
        overrides=mask_argv(plan.args.overrides),
        argv=mask_argv(plan.argv),
        sources=[plan.config_source] if plan.config_source else [],
    )
    _say(f"run {plan.run_id}: {plan.recipe.name} {plan.stage.name} ({plan.mode})")
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
    if exit_code != 0:
        raise StageFailedError(plan.stage.name, plan.run_id, exit_code, plan.mode)
    return 0


def _execute(plan: StagePlan, record: LaunchRecord, config_file: Path) -> int:
    if plan.args.profile is None:
        record.status = "running"
        save_launch(record)
        command = [sys.executable, "-m", plan.stage.module, "--config", str(config_file)]
        env = {**os.environ, "NEMOTRON_RUN_ID": plan.run_id}
        return subprocess.run([*command, *plan.args.passthrough], env=env, check=False).returncode
    from kit_run import load_env_profile, submit
    from kit_track import job_credentials

    profile = load_env_profile(plan.args.profile)
    handle = submit(
        _job_spec(plan, config_file),
        profile,
        attached=plan.args.attached,
        secrets=job_credentials(),
    )
    record.job_id = str(handle.job_id)
    if not plan.args.attached:
        record.status = "submitted"
        _say(f"submitted job {handle.job_id}; follow it with `nemotron job logs {handle.job_id}`")
        return 0
    return int(handle.exit_code or 0)


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


def run_stage(recipe: Recipe, stage_name: str, argv: Sequence[str]) -> int:
    """Parse `argv`, then dry-run, run or submit the stage; return the process exit code.

    0 success, 1 the stage or job failed, 2 a usage or input error (printed as one line).
    """
    try:
        args = parse_stage_argv(argv)
        stage = recipe.stage(stage_name)
        plan = plan_stage(recipe, stage, args, argv)
        if args.dry_run:
            sys.stdout.write(render_plan(plan))
            return 0
        return execute_plan(plan)
    except Exception as error:
        return report_error(error)

