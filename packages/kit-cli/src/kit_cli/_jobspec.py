"""The kit-run job of a stage: command shape, shipped code, environment, dependencies.

With a PEX (`Stage.job_target`), the PEX's entry point IS the stage module, so the job runs
`PEX --config config.yaml`; without one it runs `python -m MODULE --config config.yaml` in
the profile's Python (its `setup_lines` activate it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kit_cli._plan import JOB_CONFIG_NAME, StagePlan

__all__ = ["job_artifacts_root", "job_spec", "render_remote_dry_run"]


def _stage_command(plan: StagePlan, pex: Path | None) -> list[str]:
    tail = ["--config", JOB_CONFIG_NAME]
    return tail if pex is not None else ["python", "-m", plan.stage.module, *tail]


def job_artifacts_root(profile: Any) -> str | None:
    """The registry root the job publishes into, or None to leave it to the profile.

    A profile's own `env_vars.NEMOTRON_ARTIFACTS_ROOT` wins; then env.toml's
    `[artifacts] root`; then the submitter's registry when the job can see it too (a URL
    such as s3://..., or a cluster reached through the local tunnel, i.e. this machine).
    """
    env_vars = profile.get("env_vars") or {}
    if "NEMOTRON_ARTIFACTS_ROOT" in env_vars:
        return None
    if profile.file:
        from kit_run import load_env_file

        configured = load_env_file(profile.file).artifacts.get("root")
        if configured:
            return str(configured)
    from kit_artifacts import get_registry

    root = str(get_registry().root)
    shared = "://" in root or profile.executor == "local" or profile.tunnel == "local"
    return root if shared else None


def job_spec(plan: StagePlan, config_file: Path, pex: Path | None, profile: Any) -> Any:
    """The `kit_run.JobSpec` that runs `plan` under `profile` (config shipped alongside)."""
    from kit_artifacts import hooks
    from kit_cli._launches import code_digest
    from kit_cli._wandb_env import wandb_env
    from kit_run import JobSpec, PexPackager

    # W&B project/entity/mode as plain settings (the key goes only as a secret); the job's
    # code identity comes from here, the launch (its own folder is no checkout).
    env = wandb_env(profile.file, profile_env=profile.get("env_vars") or {})
    digest = code_digest(plan.stage.module, pex, local=False)[0]
    env.update(hooks.CodeIdentity(plan.git_commit, plan.git_dirty, digest).env())
    env["NEMOTRON_RUN_ID"] = plan.run_id
    root = job_artifacts_root(profile)
    if root is not None:
        env["NEMOTRON_ARTIFACTS_ROOT"] = root
    return JobSpec(
        name=f"{plan.recipe.name}-{'-'.join(plan.stage.command_path)}",
        command=_stage_command(plan, pex),
        env=env,
        files={JOB_CONFIG_NAME: config_file},
        packager=PexPackager(pex) if pex is not None else None,
        dependencies=list(plan.after),
    )


def render_remote_dry_run(plan: StagePlan, placeholder: Path) -> str:
    """kit-run's dry run of the job, secrets masked; builds no PEX and submits nothing."""
    from kit_cli._jobcode import planned_job_pex
    from kit_config import mask_secrets
    from kit_run import load_env_profile, render_dry_run
    from kit_track import job_credentials

    profile = load_env_profile(str(plan.args.profile))
    pex, address = planned_job_pex(plan.stage)
    notes = []
    if pex is not None and not pex.is_file():
        # Not built (dry runs never run Pants): show the command the PEX would get.
        how = f"`./pants package {address}`" if address else "building it"
        notes.append(f"# job code: {pex} (not built yet; a real run makes it with {how})")
        spec = job_spec(plan, placeholder, None, profile)
        spec.command = [str(pex), *_stage_command(plan, pex)]
        spec.env.pop("NEMOTRON_CODE_DIGEST", None)  # the PEX's, known once it is built
    else:
        spec = job_spec(plan, placeholder, pex, profile)
    text = render_dry_run(spec, profile, secrets=job_credentials())
    return "\n".join([*notes, str(mask_secrets(text)).rstrip("\n")])
