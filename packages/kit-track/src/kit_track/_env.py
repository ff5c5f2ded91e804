"""Facts about the current process: run id, rank, host, state directory.

The code version comes from `kit_artifacts.hooks.code_identity` (one source for launcher,
run record and artifact producer).
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import sys
from pathlib import Path

__all__ = [
    "ENV_RUN_ID",
    "host_name",
    "nemotron_home",
    "new_run_id",
    "process_rank",
    "python_version",
    "runs_dir",
    "utc_now",
    "world_size",
]

ENV_RUN_ID = "NEMOTRON_RUN_ID"


def utc_now() -> str:
    """The current time as ISO-8601 with a UTC offset."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id(now: dt.datetime | None = None) -> str:
    """A fresh run id `YYYYmmdd-HHMMSS-<6 hex>` (sortable by start time)."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def nemotron_home() -> Path:
    """`$NEMOTRON_HOME`, default `~/.nemotron`."""
    return Path(os.environ.get("NEMOTRON_HOME") or Path.home() / ".nemotron")


def runs_dir() -> Path:
    """Where the FileTracker keeps one directory per run."""
    return nemotron_home() / "runs"


def _int_env(*names: str, default: int) -> int:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return default


def process_rank() -> int:
    """This process's global rank: torchrun `RANK`, else Slurm `SLURM_PROCID`, else 0."""
    return _int_env("RANK", "SLURM_PROCID", default=0)


def world_size() -> int:
    """Number of ranks in the job: `WORLD_SIZE`, else `SLURM_NTASKS`, else 1."""
    return _int_env("WORLD_SIZE", "SLURM_NTASKS", default=1)


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname()


def python_version() -> str:
    """The running interpreter's version, e.g. `3.11.9`."""
    return ".".join(str(part) for part in sys.version_info[:3])
