"""Job records under `$NEMOTRON_HOME/jobs/<job_id>.json`: how a later process finds a job.

A record holds everything status/logs/cancel need (backend, scheduler id, tunnel, paths) and
what ran (command, code digest, commit, profile) but never a secret value.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit_config import atomic_write_json, home_dir, new_run_id
from kit_run.errors import JobNotFoundError

__all__ = [
    "find_records",
    "list_records",
    "load_record",
    "new_job_id",
    "save_record",
    "staging_dir",
]


def staging_dir(job_id: str) -> Path:
    """Return the local directory where a job's script, code and secrets file are staged."""
    return home_dir("jobs") / job_id


def new_job_id(name: str) -> str:
    """A unique, sortable, filesystem- and Slurm-safe job id: `NAME-<run id>`."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "job"
    return f"{safe}-{new_run_id()}"


def save_record(record: dict[str, Any]) -> Path:
    """Write a job record atomically and return its path."""
    return atomic_write_json(home_dir("jobs") / f"{record['job_id']}.json", record, sort_keys=True)


def list_records() -> list[dict[str, Any]]:
    """Every job record, oldest first."""
    directory = home_dir("jobs")
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a foreign or broken file must not hide the other jobs
    return sorted(records, key=lambda r: (r.get("submitted_at", 0), r.get("job_id", "")))


def load_record(job_id: str) -> dict[str, Any]:
    """Return the record of one job id, or of the only job of an experiment id."""
    path = home_dir("jobs") / f"{job_id}.json"
    if path.is_file():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    matches = find_records(job_id)
    if len(matches) == 1:
        return matches[0]
    known = [r["job_id"] for r in list_records()]
    if matches:
        raise JobNotFoundError(
            f"experiment {job_id!r} has {len(matches)} jobs "
            f"({', '.join(r['job_id'] for r in matches)}); name one job id",
            job_id=job_id, known=known)
    raise JobNotFoundError(f"no job or experiment {job_id!r} under {home_dir('jobs')}",
                           job_id=job_id, known=known)


def find_records(ref: str) -> list[dict[str, Any]]:
    """Records whose job id, experiment id or scheduler id equals `ref`."""
    return [r for r in list_records()
            if ref in (r.get("job_id"), r.get("experiment_id"), r.get("scheduler_id"))]
