"""Facts about the current process that only tracking needs: host, Python, time.

Run id, rank, world size and `$NEMOTRON_HOME` are kit-config's (`kit_config.new_run_id`,
`process_rank`, `world_size`, `home_dir`); the code version is
`kit_artifacts.hooks.code_identity` (one source for launcher, run record and producer).
"""
from __future__ import annotations

import datetime as dt
import socket
import sys

__all__ = ["host_name", "python_version", "utc_now"]


def utc_now() -> str:
    """The current time as ISO-8601 with a UTC offset."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname()


def python_version() -> str:
    """The running interpreter's version, e.g. `3.11.9`."""
    return ".".join(str(part) for part in sys.version_info[:3])
