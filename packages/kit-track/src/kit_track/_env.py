"""Facts about the current process: run id, rank, host, code version, state directory."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

__all__ = [
    "ENV_RUN_ID",
    "git_state",
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
# Jobs shipped as a pex or archive have no .git: the submitter passes the version along.
_ENV_GIT_COMMIT = "NEMOTRON_GIT_COMMIT"
_ENV_GIT_DIRTY = "NEMOTRON_GIT_DIRTY"
_GIT_TIMEOUT_S = 5.0


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


def git_state(cwd: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the code being run; (None, None) outside a git checkout."""
    commit = os.environ.get(_ENV_GIT_COMMIT) or None
    if commit:
        dirty_env = os.environ.get(_ENV_GIT_DIRTY, "").lower()
        dirty: bool | None = None
        if dirty_env in {"1", "true", "0", "false"}:
            dirty = dirty_env in {"1", "true"}
        return commit, dirty
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    dirty_state = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip() or None, dirty_state
