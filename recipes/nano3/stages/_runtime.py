"""Process-level setup for the local backend: device, threads, data parallelism, schedule.

Under `torchrun` (or a multi-task Slurm job) every process trains a replica; gradients are
averaged by DDP over gloo on CPU or NCCL on CUDA. Rank 0 alone writes checkpoints and
publishes. A single process runs the same code with world size 1 and no process group.
"""
from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

import kit_config
from nano3.stages._config import OptimizerConfig, TrainerConfig
from nano3.stages._model import count_parameters
from nano3.stages.errors import StageConfigError

__all__ = ["Runtime", "all_mean", "build_optimizer", "freeze_untrainable", "lr_at",
           "setup_runtime"]


@dataclass
class Runtime:
    """Where this process trains and which replica it is."""

    device: torch.device
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """True on the replica that logs, checkpoints and publishes."""
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """Wrap the model in DDP when there is more than one replica."""
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        """Wait for every replica (no-op alone)."""
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        """Tear the process group down."""
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _first_slurm_node() -> str | None:
    nodes = os.environ.get("SLURM_JOB_NODELIST", "")
    if not nodes or os.environ.get("SLURM_JOB_NUM_NODES", "1") == "1":
        return None
    import subprocess

    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0] if out else None


def setup_runtime(cfg: TrainerConfig) -> Runtime:
    """Pick the device, seed, thread count, and join the process group when launched so."""
    world, rank, local = kit_config.world_size(), kit_config.process_rank(), kit_config.local_rank()
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but CUDA is not available; use device=auto")
    device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if world > 1 and not dist.is_initialized():
        # Slurm gives no MASTER_ADDR: use the job's first node (127.0.0.1 when alone).
        os.environ.setdefault("MASTER_ADDR", _first_slurm_node() or "127.0.0.1")
        job = int(os.environ.get("SLURM_JOB_ID", "").strip() or 0)
        os.environ.setdefault("MASTER_PORT", str(29500 + job % 1000))
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    torch.manual_seed(cfg.seed + rank)
    return Runtime(device, rank, world, local)


def all_mean(rt: Runtime, values: list[float]) -> list[float]:
    """Average a few floats over all replicas (identity alone)."""
    if rt.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.all_reduce(t)
    return [float(v) / rt.world_size for v in t.tolist()]


def lr_at(cfg: OptimizerConfig, step: int, max_steps: int) -> float:
    """Linear warmup to `lr`, then cosine decay to `min_lr` at `max_steps`."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(max_steps - cfg.warmup_steps, 1)
    progress = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def freeze_untrainable(model: torch.nn.Module, patterns: list[str], stage: str) -> int:
    """Freeze every parameter whose name matches none of `patterns`; returns the trainable count.

    A pattern that matches no parameter is a config mistake (a typo would otherwise freeze
    the whole model silently), so it is an error naming the pattern and real names.
    """
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unmatched:
        raise StageConfigError(stage, "optimizer.trainable",
                                         f"{', '.join(map(repr, unmatched))} match(es) no "
                                         f"parameter; names look like {', '.join(names[:3])}, "
                                         f"{names[-1]}")
    for name, p in model.named_parameters():
        p.requires_grad_(any(fnmatch.fnmatchcase(name, pat) for pat in patterns))
    return count_parameters(model)


def build_optimizer(model: torch.nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and embeddings' position table."""
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and "pos" not in name else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
