"""This process's run id, rank and world, with one precedence order for the whole kit:
torchrun's variables first (under `srun torchrun ...` Slurm numbers the launchers, not the
workers), then Slurm's, then a lone process (rank 0 of 1).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping

__all__ = ["RUN_ID_ENV", "local_rank", "new_run_id", "process_rank", "world_size"]

RUN_ID_ENV = "NEMOTRON_RUN_ID"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A fresh run id `YYYYmmdd-HHMMSS-<6 hex>` (UTC; sorts by start time)."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _int_env(env: Mapping[str, str] | None, names: tuple[str, ...], default: int) -> int:
    source = os.environ if env is None else env
    for name in names:
        value = source.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return default


def process_rank(env: Mapping[str, str] | None = None) -> int:
    """Global rank: `RANK`, else `SLURM_PROCID`, else 0."""
    return _int_env(env, ("RANK", "SLURM_PROCID"), 0)


def world_size(env: Mapping[str, str] | None = None) -> int:
    """Number of ranks: `WORLD_SIZE`, else `SLURM_NTASKS`, else 1."""
    return _int_env(env, ("WORLD_SIZE", "SLURM_NTASKS"), 1)


def local_rank(env: Mapping[str, str] | None = None) -> int:
    """Rank on this node: `LOCAL_RANK`, else `SLURM_LOCALID`, else 0."""
    return _int_env(env, ("LOCAL_RANK", "SLURM_LOCALID"), 0)
