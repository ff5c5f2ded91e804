"""Facts about the current process that only tracking needs: host, Python, code version.

Run id, rank, world size and `$NEMOTRON_HOME` are kit-config's (`kit_config.new_run_id`,
`process_rank`, `world_size`, `home_dir`): one definition for the whole kit.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["git_state", "host_name", "python_version", "utc_now"]

# Jobs shipped as a pex or archive have no .git: the submitter passes the version along.
_ENV_GIT_COMMIT = "NEMOTRON_GIT_COMMIT"
_ENV_GIT_DIRTY = "NEMOTRON_GIT_DIRTY"
_GIT_TIMEOUT_S = 5.0


def utc_now() -> str:
    """The current time as ISO-8601 with a UTC offset."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


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
