"""Launch records: what the CLI knows about each run it started, for `runs` and `rerun`.

Layout: `$NEMOTRON_HOME/launches/<run_id>/` holds `launch.json` (this record),
`config.yaml` (the pinned config the stage received) and kit-config's provenance files.
It sits beside kit-track's `$NEMOTRON_HOME/runs/<run_id>/`, which the stage itself writes.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import attrs

from kit_config import atomic_write_text, home_dir

__all__ = [
    "LaunchRecord",
    "code_version",
    "list_launches",
    "load_launch",
    "save_launch",
]


def code_version(module_file: str | None) -> tuple[str | None, bool | None]:
    """`(commit, dirty)` of the git checkout holding `module_file`; `(None, None)` outside git."""
    if not module_file:
        return None, None
    folder = str(Path(module_file).resolve().parent)
    try:
        head = subprocess.run(
            ["git", "-C", folder, "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip())


@attrs.define
class LaunchRecord:
    """Everything needed to show, audit and rerun one stage launch."""

    run_id: str
    recipe: str
    stage: str
    module: str
    argv: list[str]
    overrides: list[str]
    passthrough: list[str]
    config_source: str | None
    profile: str | None
    mode: str  # "local", "attached" or "batch"
    pins: dict[str, str]
    inputs: list[dict[str, str]]
    git_commit: str | None
    git_dirty: bool | None
    created_at: str
    status: str = "created"
    exit_code: int | None = None
    job_id: str | None = None
    rerun_of: str | None = None
    scheduler_id: str | None = None
    after: list[str] = attrs.field(factory=list)
    deferred: list[str] = attrs.field(factory=list)

    @property
    def directory(self) -> Path:
        """The record's folder under `$NEMOTRON_HOME/launches`."""
        return home_dir("launches") / self.run_id


def save_launch(record: LaunchRecord) -> Path:
    """Write (or update) `launch.json` atomically; return its folder."""
    path = record.directory / "launch.json"
    atomic_write_text(path, json.dumps(attrs.asdict(record), indent=2, sort_keys=True) + "\n")
    return record.directory


def load_launch(run_id: str) -> LaunchRecord:
    """The launch record of `run_id`; `RunRecordNotFoundError` when there is none."""
    from kit_cli.errors import RunRecordNotFoundError

    path = home_dir("launches") / run_id / "launch.json"
    if "/" in run_id or run_id.startswith(".") or not path.is_file():
        raise RunRecordNotFoundError(run_id, str(home_dir("launches")))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    known = {a.name for a in attrs.fields(LaunchRecord)}
    return LaunchRecord(**{k: v for k, v in data.items() if k in known})


def list_launches() -> list[LaunchRecord]:
    """Every readable launch record, newest first."""
    root = home_dir("launches")
    if not root.is_dir():
        return []
    records = []
    for folder in sorted(root.iterdir(), reverse=True):
        if (folder / "launch.json").is_file():
            try:
                records.append(load_launch(folder.name))
            except (ValueError, TypeError):
                continue  # a foreign or corrupt file must not break the listing
    return records
