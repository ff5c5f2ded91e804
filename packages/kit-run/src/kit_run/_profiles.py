"""env.toml profiles as attrs classes, one per executor kind, structured by kit-config.

The classes say which keys each executor takes and of which type; `kit_config.structure`
(exact mode: TOML values are typed, so `nodes = "4"` is a mistake, not 4) reports every
unknown key (with the closest known one), wrong type and missing required field at once.
The rules a type cannot say (positive counts, the ssh tunnel's keys, no secrets in
env_vars, a newer schema) are checked here after it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kit_run.errors import ProfileProblem

__all__ = [
    "DgxCloudProfile",
    "DockerProfile",
    "EXECUTORS",
    "LeptonProfile",
    "LocalProfile",
    "PROFILE_CLASSES",
    "RESERVED_TABLES",
    "SCHEMA_VERSION",
    "SkypilotProfile",
    "SlurmProfile",
    "known_keys",
    "validate_profile",
]

SCHEMA_VERSION = 1
RESERVED_TABLES = ("artifacts", "cli", "wandb")
_Scalar = str | int | float | bool
_StrOrList = str | list[str]


@attrs.frozen(kw_only=True)
class _Common:
    executor: str
    schema_version: int = SCHEMA_VERSION
    description: str | None = None
    container_image: str | None = None
    mounts: list[str] = attrs.Factory(list)
    env_vars: dict[str, _Scalar] = attrs.Factory(dict)
    nodes: int | None = None
    gpus_per_node: int | None = None
    nproc_per_node: int | None = None
    ntasks_per_node: int | None = None
    time: str | None = None
    # How a PEX runs on the target: with this interpreter (e.g. the container's `python3`)
    # and, when true, seeing that interpreter's site-packages (PEX_INHERIT_PATH=fallback).
    pex_python: str | None = None
    pex_inherit_path: bool | None = None


@attrs.frozen(kw_only=True)
class LocalProfile(_Common):
    """`executor = "local"`: a subprocess on this machine."""

    job_dir: str | None = None


@attrs.frozen(kw_only=True)
class SlurmProfile(_Common):
    """`executor = "slurm"`: sbatch, on this host (`tunnel = "local"`) or over ssh."""

    account: str
    partition: str | None = None
    tunnel: Literal["local", "ssh"] = "local"
    host: str | None = None
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    remote_job_dir: str | None = None
    job_dir: str | None = None
    exclusive: bool | None = None
    mem: str | None = None
    cpus_per_task: int | None = None
    qos: str | None = None
    gres: str | None = None
    constraint: str | None = None
    job_name_prefix: str | None = None
    setup_lines: list[str] = attrs.Factory(list)
    container_mounts: list[str] = attrs.Factory(list)
    ssh_timeout: int | None = None
    known_hosts: str | None = None
    srun_args: list[str] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class DockerProfile(_Common):
    """`executor = "docker"` (NeMo-Run)."""

    container_image: str
    runtime: str | None = None
    num_gpus: int | None = None
    shm_size: str | None = None
    network: str | None = None
    volumes: list[str] = attrs.Factory(list)
    ipc_mode: str | None = None
    privileged: bool | None = None
    job_dir: str | None = None


@attrs.frozen(kw_only=True)
class SkypilotProfile(_Common):
    """`executor = "skypilot"` (NeMo-Run)."""

    cloud: _StrOrList | None = None
    region: _StrOrList | None = None
    zone: _StrOrList | None = None
    gpus: _StrOrList | None = None
    cpus: int | None = None
    memory: int | None = None
    instance_type: str | None = None
    use_spot: bool | None = None
    disk_size: int | None = None
    cluster_name: str | None = None
    setup: str | None = None
    autodown: bool | None = None
    idle_minutes_to_autostop: int | None = None
    job_dir: str | None = None


@attrs.frozen(kw_only=True)
class LeptonProfile(_Common):
    """`executor = "lepton"` (NeMo-Run)."""

    container_image: str
    nemo_run_dir: str
    resource_shape: str | None = None
    node_group: str | None = None
    node_reservation: str | None = None
    shared_memory_size: int | None = None
    lepton_mounts: list[dict[str, Any]] = attrs.Factory(list)
    pre_launch_commands: list[str] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class DgxCloudProfile(_Common):
    """`executor = "dgxcloud"` (NeMo-Run)."""

    container_image: str
    base_url: str
    kube_apiserver_url: str
    client_id: str
    project_name: str
    pvc_nemo_run_dir: str
    pvcs: list[dict[str, Any]] = attrs.Factory(list)
    distributed_framework: str | None = None


PROFILE_CLASSES: dict[str, type[_Common]] = {
    "dgxcloud": DgxCloudProfile,
    "docker": DockerProfile,
    "lepton": LeptonProfile,
    "local": LocalProfile,
    "skypilot": SkypilotProfile,
    "slurm": SlurmProfile,
}
EXECUTORS = tuple(PROFILE_CLASSES)
_POSITIVE = frozenset({"nodes", "gpus_per_node", "nproc_per_node", "ntasks_per_node",
                       "cpus_per_task", "port", "ssh_timeout", "schema_version"})
_SUGGESTION = re.compile(r" \(did you mean '(?P<near>[^']*)'\?\)$")


def known_keys(executor: str | None) -> frozenset[str]:
    """The keys a profile of this executor may set (of every executor when unknown)."""
    classes = [PROFILE_CLASSES[executor]] if executor in PROFILE_CLASSES else list(
        PROFILE_CLASSES.values())
    return frozenset(a.name for cls in classes for a in attrs.fields(cls))


def validate_profile(name: str, settings: Mapping[str, Any]) -> list[ProfileProblem]:
    """Check a merged profile (extends already applied) and return every problem found."""
    from kit_config import ConfigValidationError, closest, is_secret_key, structure

    problems: list[ProfileProblem] = []
    executor = settings.get("executor")
    cls = PROFILE_CLASSES.get(executor) if isinstance(executor, str) else None
    if executor is None:
        problems.append(ProfileProblem(name, "executor", "missing required key; set one of "
                                       + ", ".join(EXECUTORS)))
    elif cls is None:
        problems.append(ProfileProblem(name, "executor", f"{executor!r} is not one of "
                                       + ", ".join(EXECUTORS), closest(str(executor), EXECUTORS)))
    if cls is None:  # no schema to structure against: judge keys against every executor
        everything = known_keys(None)
        problems += [ProfileProblem(name, key, "unknown key", closest(key, everything))
                     for key in settings if key not in everything]
        return problems
    try:
        structure(dict(settings), cls, exact=True)
    except ConfigValidationError as exc:
        problems += [_problem(name, str(executor), p.path, p.message) for p in exc.problems]
    for key in _POSITIVE & settings.keys():
        value = settings[key]
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            problems.append(ProfileProblem(name, key, f"must be >= 1, got {value}"))
    version = settings.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        problems.append(ProfileProblem(
            name, "schema_version", f"{version} is newer than this kit-run understands "
            f"({SCHEMA_VERSION}); upgrade kit-run"))
    if executor == "slurm" and settings.get("tunnel") == "ssh":
        problems += [ProfileProblem(name, key, "missing required key for tunnel 'ssh'")
                     for key in ("host", "user", "remote_job_dir") if key not in settings]
    env_vars = settings.get("env_vars")
    if isinstance(env_vars, Mapping):
        problems += [ProfileProblem(
            name, f"env_vars.{var}", "secrets do not belong in env.toml; they reach jobs "
            "through submit(secrets=...) as a private 0600 file")
            for var in env_vars if is_secret_key(str(var))]
    return problems


def _problem(name: str, executor: str, key: str, message: str) -> ProfileProblem:
    """kit-config's problem as a profile problem; its did-you-mean becomes `suggestion`."""
    match = _SUGGESTION.search(message)
    near = match.group("near") if match else None
    text = message[: match.start()] if match else message
    if text.startswith("unknown key") and key in known_keys(None):
        return ProfileProblem(name, key, f"not a key of executor {executor!r}")
    if text.startswith("missing required field"):
        text = f"missing required key for executor {executor!r}"
    return ProfileProblem(name, key, text, near)
