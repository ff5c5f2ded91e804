"""Turn a validated profile into a NeMo-Run executor; nemo_run is imported only here.

An executor whose Python extra or client is missing fails with an error naming what to
install, before NeMo-Run gets to fail deep inside a launch.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from kit_run._envfile import Profile
from kit_run.errors import ExecutorUnavailableError

__all__ = ["build_executor", "check_executor_available"]

# executor -> (module that must import, what to install)
_EXTRAS: dict[str, tuple[str, str]] = {
    "skypilot": ("sky", "pip install 'nemo-run[skypilot]'"),
    "lepton": ("leptonai", "pip install 'leptonai<0.47'"),
    "docker": ("docker", "pip install docker (and a running Docker daemon)"),
    "dgxcloud": ("requests", "pip install requests"),
}


def check_executor_available(executor: str) -> None:
    """Raise `ExecutorUnavailableError` when nemo-run or the executor's extra is missing."""
    if importlib.util.find_spec("nemo_run") is None:
        raise ExecutorUnavailableError(
            f"executor {executor!r} needs NeMo-Run, which is not installed",
            executor=executor, install="pip install 'nemo-run==0.11.1' 'leptonai<0.47'")
    module, install = _EXTRAS.get(executor, ("", ""))
    if module and importlib.util.find_spec(module) is None:
        raise ExecutorUnavailableError(
            f"executor {executor!r} needs the Python module {module!r}, which is not installed",
            executor=executor, install=install)


def _common(profile: Profile) -> dict[str, Any]:
    env = {k: str(v) for k, v in (profile.get("env_vars") or {}).items()}
    return {"env_vars": env}


def build_executor(profile: Profile, *, job_dir: str = "",
                   secrets: Mapping[str, str] | None = None) -> Any:
    """Return the NeMo-Run executor (`run.SlurmExecutor`, ...) that a profile describes.

    `job_dir` is where NeMo-Run keeps its files (tunnel job dir for Slurm); `secrets`
    supplies credentials an executor itself needs (`DGXCLOUD_CLIENT_SECRET`).
    """
    check_executor_available(profile.executor)
    import nemo_run as run

    get = profile.get
    kind = profile.executor
    if kind == "local":
        return run.LocalExecutor(ntasks_per_node=get("ntasks_per_node", 1),
                                 nodes=get("nodes", 1), **_common(profile))
    if kind == "slurm":
        if profile.tunnel == "ssh":
            tunnel: Any = run.SSHTunnel(host=get("host"), user=get("user"), port=get("port"),
                                        identity=get("identity"),
                                        job_dir=job_dir or get("remote_job_dir"))
        else:
            tunnel = run.LocalTunnel(job_dir=job_dir or get("job_dir", ""))
        options = {k: get(k) for k in ("partition", "mem", "cpus_per_task", "gpus_per_node",
                                       "qos", "gres", "constraint", "container_image",
                                       "job_name_prefix", "exclusive") if get(k) is not None}
        setup = get("setup_lines")
        return run.SlurmExecutor(
            account=get("account"), nodes=get("nodes", 1),
            ntasks_per_node=get("ntasks_per_node", 1), time=get("time", "00:10:00"),
            container_mounts=list(get("container_mounts") or get("mounts") or []),
            setup_lines="\n".join(setup) if setup else None, tunnel=tunnel,
            packager=run.Packager(), srun_args=get("srun_args"), **options,
            **_common(profile))
    if kind == "docker":
        options = {k: get(k) for k in ("runtime", "num_gpus", "shm_size", "ipc_mode",
                                       "network", "privileged") if get(k) is not None}
        return run.DockerExecutor(container_image=get("container_image"),
                                  ntasks_per_node=get("ntasks_per_node", 1),
                                  volumes=list(get("volumes") or get("mounts") or []),
                                  packager=run.Packager(), **options, **_common(profile))
    if kind == "skypilot":
        options = {k: get(k) for k in ("container_image", "cloud", "region", "zone", "gpus",
                                       "gpus_per_node", "cpus", "memory", "instance_type",
                                       "use_spot", "disk_size", "cluster_name", "setup",
                                       "idle_minutes_to_autostop") if get(k) is not None}
        return run.SkypilotExecutor(num_nodes=get("nodes", 1), autodown=get("autodown", False),
                                    packager=run.Packager(), **options, **_common(profile))
    if kind == "lepton":
        options = {k: get(k) for k in ("resource_shape", "node_group", "node_reservation",
                                       "shared_memory_size", "pre_launch_commands")
                   if get(k) is not None}
        return run.LeptonExecutor(container_image=get("container_image"),
                                  nemo_run_dir=get("nemo_run_dir"), nodes=get("nodes", 1),
                                  gpus_per_node=get("gpus_per_node", 0),
                                  nprocs_per_node=get("nproc_per_node", 1),
                                  mounts=list(get("lepton_mounts") or []),
                                  packager=run.Packager(), **options, **_common(profile))
    if kind == "dgxcloud":
        secret = (secrets or {}).get("DGXCLOUD_CLIENT_SECRET") or os.environ.get(
            "DGXCLOUD_CLIENT_SECRET", "")
        return run.DGXCloudExecutor(
            base_url=get("base_url"), kube_apiserver_url=get("kube_apiserver_url"),
            client_id=get("client_id"), client_secret=secret,
            project_name=get("project_name"), container_image=get("container_image"),
            pvc_nemo_run_dir=get("pvc_nemo_run_dir"), nodes=get("nodes", 1),
            gpus_per_node=get("gpus_per_node", 0), nprocs_per_node=get("nproc_per_node", 1),
            pvcs=list(get("pvcs") or []),
            distributed_framework=get("distributed_framework", "PyTorch"),
            packager=run.Packager(), **_common(profile))
    raise ExecutorUnavailableError(f"unknown executor {kind!r}", executor=kind,
                                   install="one of local, slurm, docker, skypilot, lepton, "
                                           "dgxcloud")
