"""Render what a job runs: the batch script, the per-task launcher and the secrets file.

Secrets never enter the batch script or the launcher: the launcher sources a 0600
`secrets.env` next to it, which only the job's user can read, and which dry runs and job
records show by variable name only.
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from kit_run._envfile import Profile
from kit_run._packaging import ShippedCode
from kit_run._spec import JobSpec

__all__ = [
    "LAUNCHER_NAME",
    "SECRETS_NAME",
    "job_command",
    "render_launcher",
    "render_local_script",
    "render_sbatch",
    "render_secrets",
    "task_layout",
]

LAUNCHER_NAME = "launch.sh"
SECRETS_NAME = "secrets.env"
q = shlex.quote


def job_command(spec: JobSpec, code: ShippedCode | None) -> list[str]:
    """The argv each task runs: the packager's prefix (PEX) then the spec's command."""
    return [*(code.command_prefix if code else []), *spec.command]


def render_launcher(spec: JobSpec, profile: Profile, remote_dir: str, job_id: str,
                    code: ShippedCode | None) -> str:
    """The per-task script: source secrets, export env, cd, exec the command."""
    env: dict[str, str] = {}
    env.update({k: str(v) for k, v in (profile.get("env_vars") or {}).items()})
    if code:
        env.update(code.env)
    env.update({k: str(v) for k, v in spec.env.items()})
    env.update({"NEMOTRON_JOB_ID": job_id, "NEMOTRON_JOB_DIR": remote_dir,
                "NEMOTRON_EXPERIMENT_ID": spec.experiment or job_id})
    workdir = spec.workdir or (code.default_workdir if code else None) or remote_dir
    lines = [
        "#!/usr/bin/env bash",
        f"# kit-run launcher for job {job_id} (one copy runs per task).",
        "set -eo pipefail",
        "# Secrets come from a 0600 file next to this script, never from the script itself.",
        f"if [ -f {q(remote_dir + '/' + SECRETS_NAME)} ]; then",
        f"  set -a; . {q(remote_dir + '/' + SECRETS_NAME)}; set +a",
        "fi",
        *(f"export {k}={q(v)}" for k, v in sorted(env.items())),
        # Ranks for torchrun-less scripts and kit-track (RANK / SLURM_PROCID).
        'export RANK="${RANK:-${SLURM_PROCID:-0}}"',
        f"cd {q(workdir)}",
        "exec " + " ".join(q(a) for a in job_command(spec, code)),
    ]
    return "\n".join(lines) + "\n"


def task_layout(spec: JobSpec, profile: Profile) -> tuple[int, int]:
    """(nodes, tasks per node) of a Slurm job. Tasks per node: the profile's
    `ntasks_per_node`, else one per GPU (`gpus_per_node`, Megatron's one rank per GPU), else
    the job's own task count spread over the nodes. Every node runs them, so `nodes = 2`
    alone gives two tasks, never one task on two allocated nodes."""
    nodes = int(profile.get("nodes") or 1)
    per_node = (profile.get("ntasks_per_node") or profile.get("gpus_per_node")
                or max(1, -(-spec.ntasks // nodes)))
    return nodes, int(per_node)


def _sbatch_flags(spec: JobSpec, profile: Profile, remote_dir: str, job_id: str,
                  dependencies: Sequence[str]) -> list[tuple[str, Any]]:
    get = profile.get
    nodes, per_node = task_layout(spec, profile)
    flags: list[tuple[str, Any]] = [
        ("job-name", f"{get('job_name_prefix', '')}{job_id}"),
        ("output", f"{remote_dir}/slurm-%j.out"),
        ("account", get("account")),
        ("partition", get("partition")),
        ("nodes", nodes),
        ("ntasks-per-node", per_node),
        ("time", get("time", "00:10:00")),
        ("cpus-per-task", get("cpus_per_task")),
        ("gpus-per-node", get("gpus_per_node")),
        ("mem", get("mem")),
        ("qos", get("qos")),
        ("gres", get("gres")),
        ("constraint", get("constraint")),
        ("exclusive", True if get("exclusive") else None),
    ]
    if dependencies:
        flags.append(("dependency", "afterok:" + ":".join(dependencies)))
        # A failed dependency cancels the job instead of leaving it pending forever.
        flags.append(("kill-on-invalid-dep", "yes"))
    return [(k, v) for k, v in flags if v is not None and v != ""]


def render_sbatch(spec: JobSpec, profile: Profile, remote_dir: str, job_id: str,
                  code: ShippedCode | None, dependencies: Sequence[str] = ()) -> str:
    """The sbatch script: #SBATCH flags, one-time code setup, then one srun of the launcher."""
    lines = ["#!/usr/bin/env bash",
             f"# kit-run job {job_id} (profile {profile.name!r}); secrets are not in this file."]
    for key, value in _sbatch_flags(spec, profile, remote_dir, job_id, dependencies):
        lines.append(f"#SBATCH --{key}" if value is True else f"#SBATCH --{key}={q(str(value))}")
    lines += ["", "set -eo pipefail", *(profile.get("setup_lines") or [])]
    lines += (code.batch_setup if code else [])
    nodes, per_node = task_layout(spec, profile)
    srun = ["srun", "--kill-on-bad-exit=1", f"--ntasks={nodes * per_node}"]
    image = profile.get("container_image")
    if image:  # Pyxis/enroot: the job dir is mounted at the same path inside the container
        mounts = [*(profile.get("container_mounts") or profile.get("mounts") or []),
                  f"{remote_dir}:{remote_dir}"]
        srun += ["--container-image", image, "--container-mounts", ",".join(mounts),
                 "--no-container-mount-home"]
    srun += list(profile.get("srun_args") or [])
    srun += ["bash", f"{remote_dir}/{LAUNCHER_NAME}"]
    lines.append(" ".join(q(a) for a in srun))
    return "\n".join(lines) + "\n"


def render_local_script(spec: JobSpec, remote_dir: str, code: ShippedCode | None) -> str:
    """The local executor's driver: code setup, N task copies, exit status to a file."""
    lines = ["#!/usr/bin/env bash", "# kit-run local job driver.",
             *(code.batch_setup if code else []), "pids=()"]
    for rank in range(spec.ntasks):
        lines.append(f"RANK={rank} LOCAL_RANK={rank} WORLD_SIZE={spec.ntasks} "
                     f"bash {q(remote_dir + '/' + LAUNCHER_NAME)} & pids+=($!)")
    lines += ["status=0", 'for pid in "${pids[@]}"; do wait "$pid" || { rc=$?; '
              '[ "$status" = 0 ] && status=$rc; }; done',
              f"echo \"$status\" > {q(remote_dir + '/exit_code.tmp')}",
              f"mv {q(remote_dir + '/exit_code.tmp')} {q(remote_dir + '/exit_code')}",
              'exit "$status"']
    return "\n".join(lines) + "\n"


def render_secrets(secrets: Mapping[str, str]) -> str:
    """The secrets file: `NAME='value'` lines for `set -a; . file`."""
    for name in secrets:
        if not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ValueError(f"secret name {name!r} is not a valid environment variable name")
    return "".join(f"{k}={q(v)}\n" for k, v in sorted(secrets.items()))
