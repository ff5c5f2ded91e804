"""The one timestamp format of run records (host and Python come from `socket`/`platform`).

Run id, rank, world size and `$NEMOTRON_HOME` are kit-config's (`kit_config.new_run_id`,
`process_rank`, `world_size`, `home_dir`); the code version is
`kit_artifacts.hooks.code_identity` (one source for launcher, run record and producer).
"""
from __future__ import annotations

import datetime as dt

__all__ = ["utc_now"]


def utc_now() -> str:
    """The current time as ISO-8601 with a UTC offset."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
