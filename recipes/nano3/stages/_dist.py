"""Rank and world from torchrun or Slurm, the process group, and Megatron's parallel state."""
from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping

import attrs
import torch

from kit_config import local_rank, process_rank, world_size

__all__ = ["DistEnv", "dist_env", "init_distributed", "shutdown_distributed"]


@attrs.frozen
class DistEnv:
    """Where this process sits: global rank, world size, local rank and the rendezvous."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def _first_slurm_host(nodelist: str) -> str:
    """First host of a Slurm node list (`node[01-04]`): `scontrol` expands it correctly."""
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.split()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dist_env(env: Mapping[str, str] | None = None) -> DistEnv:
    """Rank, world and local rank in kit-config's one order (torchrun's variables, then Slurm's
    `srun` task variables, else a single process). The port of a single process is a free one
    (two local runs never clash)."""
    env = os.environ if env is None else env
    rank, world, local = process_rank(env), world_size(env), local_rank(env)
    addr = env.get("MASTER_ADDR")
    if addr is None:
        nodes = env.get("SLURM_JOB_NODELIST", "")
        addr = _first_slurm_host(nodes) if world > 1 and nodes else "127.0.0.1"
    port = env.get("MASTER_PORT")
    if port is None:
        # Every task of one Slurm job derives the same port from the job id.
        job = env.get("SLURM_JOB_ID")
        port_n = 20000 + int(job) % 20000 if job and world > 1 else _free_port()
    else:
        port_n = int(port)
    return DistEnv(rank, world, local, addr, port_n)


def init_distributed(de: DistEnv, use_cuda: bool) -> None:
    """gloo on CPU, NCCL on GPU; then Megatron's parallel state (TP = PP = 1: data parallel)."""
    from megatron.core import parallel_state

    if use_cuda:
        torch.cuda.set_device(de.local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend="nccl" if use_cuda else "gloo",
            init_method=f"tcp://{de.master_addr}:{de.master_port}",
            rank=de.rank, world_size=de.world_size)
    if not parallel_state.model_parallel_is_initialized():
        parallel_state.initialize_model_parallel(1, 1)


def shutdown_distributed() -> None:
    """Tear down the parallel state and the process group (a later run starts fresh)."""
    from megatron.core import parallel_state

    parallel_state.destroy_model_parallel()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
