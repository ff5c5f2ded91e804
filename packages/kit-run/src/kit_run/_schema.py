"""The typed schema of env.toml profiles: which keys each executor takes, of which type.

Validation collects every problem (unknown key with the closest known key, wrong type,
missing required field, bad choice) instead of stopping at the first, so a user fixes a
profile in one pass. The earlier kit passed unknown keys through silently.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from kit_run.errors import ProfileProblem

__all__ = [
    "EXECUTORS",
    "RESERVED_TABLES",
    "SCHEMA_VERSION",
    "closest_key",
    "known_keys",
    "validate_profile",
]

SCHEMA_VERSION = 1
EXECUTORS = ("dgxcloud", "docker", "lepton", "local", "skypilot", "slurm")
RESERVED_TABLES = ("artifacts", "cli", "wandb")

# Type tags: "str", "int", "bool", "list[str]", "dict[str,str]", "dict", "str|list[str]".
_COMMON: dict[str, str] = {
    "executor": "str",
    "extends": "str",
    "schema_version": "int",
    "description": "str",
    "container_image": "str",
    "mounts": "list[str]",
    "env_vars": "dict[str,str]",
    "nodes": "int",
    "gpus_per_node": "int",
    "nproc_per_node": "int",
    "ntasks_per_node": "int",
    "time": "str",
    # How a PEX runs on the target: with this interpreter (e.g. the container's `python3`)
    # and, when true, seeing that interpreter's site-packages (PEX_INHERIT_PATH=fallback).
    "pex_python": "str",
    "pex_inherit_path": "bool",
}
_PER_EXECUTOR: dict[str, dict[str, str]] = {
    "local": {"job_dir": "str"},
    "slurm": {
        "account": "str", "partition": "str", "tunnel": "str", "host": "str", "user": "str",
        "port": "int", "identity": "str", "remote_job_dir": "str", "job_dir": "str",
        "exclusive": "bool", "mem": "str", "cpus_per_task": "int", "qos": "str",
        "gres": "str", "constraint": "str", "job_name_prefix": "str",
        "setup_lines": "list[str]", "container_mounts": "list[str]",
        "ssh_timeout": "int", "known_hosts": "str", "srun_args": "list[str]",
    },
    "docker": {
        "runtime": "str", "num_gpus": "int", "shm_size": "str", "network": "str",
        "volumes": "list[str]", "ipc_mode": "str", "privileged": "bool", "job_dir": "str",
    },
    "skypilot": {
        "cloud": "str|list[str]", "region": "str|list[str]", "zone": "str|list[str]",
        "gpus": "str|list[str]", "cpus": "int", "memory": "int", "instance_type": "str",
        "use_spot": "bool", "disk_size": "int", "cluster_name": "str", "setup": "str",
        "autodown": "bool", "idle_minutes_to_autostop": "int", "job_dir": "str",
    },
    "lepton": {
        "nemo_run_dir": "str", "resource_shape": "str", "node_group": "str",
        "node_reservation": "str", "shared_memory_size": "int", "lepton_mounts": "list[dict]",
        "pre_launch_commands": "list[str]",
    },
    "dgxcloud": {
        "base_url": "str", "kube_apiserver_url": "str", "client_id": "str",
        "project_name": "str", "pvc_nemo_run_dir": "str", "pvcs": "list[dict]",
        "distributed_framework": "str",
    },
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "slurm": ("account",),
    "docker": ("container_image",),
    "lepton": ("container_image", "nemo_run_dir"),
    "dgxcloud": ("base_url", "kube_apiserver_url", "client_id", "project_name",
                 "container_image", "pvc_nemo_run_dir"),
}
_CHOICES: dict[str, tuple[str, ...]] = {"executor": EXECUTORS, "tunnel": ("local", "ssh")}
_POSITIVE = frozenset({"nodes", "gpus_per_node", "nproc_per_node", "ntasks_per_node",
                       "cpus_per_task", "port", "ssh_timeout", "schema_version"})


def known_keys(executor: str | None) -> dict[str, str]:
    """Return the keys (with type tags) a profile of this executor may set."""
    keys = dict(_COMMON)
    if executor in _PER_EXECUTOR:
        keys.update(_PER_EXECUTOR[executor])
    else:  # unknown executor: judge keys against every executor, not just the common ones
        for table in _PER_EXECUTOR.values():
            keys.update(table)
    return keys


def closest_key(key: str, candidates: Any) -> str | None:
    """Return the known key closest to a misspelt one, or None when nothing is close."""
    matches = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _type_ok(tag: str, value: Any) -> bool:
    if tag == "str":
        return isinstance(value, str)
    if tag == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if tag == "bool":
        return isinstance(value, bool)
    if tag == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if tag == "list[dict]":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if tag == "dict[str,str]":
        return isinstance(value, dict) and all(
            isinstance(v, str | int | float | bool) for v in value.values())
    if tag == "str|list[str]":
        return isinstance(value, str) or _type_ok("list[str]", value)
    return isinstance(value, dict)


def _type_name(value: Any) -> str:
    return {str: "string", int: "integer", bool: "boolean", float: "float", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def validate_profile(name: str, settings: Mapping[str, Any]) -> list[ProfileProblem]:
    """Check a merged profile (extends already applied) and return every problem found."""
    problems: list[ProfileProblem] = []
    executor = settings.get("executor")
    if executor is None:
        problems.append(ProfileProblem(name, "executor", "missing required key; set one of "
                                       + ", ".join(EXECUTORS)))
    known = known_keys(executor if isinstance(executor, str) else None)
    for key, value in settings.items():
        tag = known.get(key)
        if tag is None:
            everything = set(known_keys(None))
            if key in everything:
                problems.append(ProfileProblem(
                    name, key, f"not a key of executor {executor!r}"))
            else:
                problems.append(ProfileProblem(name, key, "unknown key",
                                               closest_key(key, known)))
            continue
        if not _type_ok(tag, value):
            problems.append(ProfileProblem(
                name, key, f"expected {tag.replace('str', 'string')}, got {_type_name(value)} "
                f"{value!r}"))
            continue
        choices = _CHOICES.get(key)
        if choices and value not in choices:
            problems.append(ProfileProblem(name, key, f"{value!r} is not one of "
                                           + ", ".join(choices),
                                           closest_key(str(value), choices)))
        if key in _POSITIVE and value < 1:
            problems.append(ProfileProblem(name, key, f"must be >= 1, got {value}"))
    version = settings.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        problems.append(ProfileProblem(
            name, "schema_version", f"{version} is newer than this kit-run understands "
            f"({SCHEMA_VERSION}); upgrade kit-run"))
    if isinstance(executor, str):
        for key in _REQUIRED.get(executor, ()):
            if key not in settings:
                problems.append(ProfileProblem(name, key,
                                               f"missing required key for executor {executor!r}"))
        if executor == "slurm" and settings.get("tunnel") == "ssh":
            for key in ("host", "user", "remote_job_dir"):
                if key not in settings:
                    problems.append(ProfileProblem(name, key,
                                                   "missing required key for tunnel 'ssh'"))
    env_vars = settings.get("env_vars")
    if isinstance(env_vars, dict):
        from kit_config import is_secret_key

        for var in env_vars:
            if is_secret_key(var):
                problems.append(ProfileProblem(
                    name, f"env_vars.{var}", "secrets do not belong in env.toml; they reach "
                    "jobs through submit(secrets=...) as a private 0600 file"))
    return problems
