"""The `Executor` boundary: submit a prepared job, query, read logs, cancel.

Every backend (Slurm over a tunnel, local processes, NeMo-Run experiments, the in-library
`FakeExecutor`) implements it; `submit()`/`job_status()` only speak to this Protocol.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import attrs

from kit_run._envfile import Profile
from kit_run._spec import JobSpec, JobStatus

__all__ = ["Executor", "PreparedJob"]


@attrs.frozen
class PreparedJob:
    """A job ready to go: staged files (job-dir-relative name -> local path) and scripts."""

    job_id: str
    spec: JobSpec
    profile: Profile
    remote_dir: str
    staging: Path
    files: dict[str, Path]
    secrets_file: Path | None
    dependencies: tuple[str, ...]
    script_name: str
    # Credentials the executor itself needs to submit (DGX Cloud's client secret); they
    # never reach the job, its files or its record.
    executor_secrets: dict[str, str] = attrs.field(factory=dict, repr=False)


class Executor(Protocol):
    """A place jobs run. `record` is the job record dict that `submit` started."""

    kind: str

    def submit(self, job: PreparedJob, record: dict[str, Any]) -> str:
        """Start the job; return the scheduler's id; may add keys to `record`."""
        ...

    def status(self, record: dict[str, Any]) -> JobStatus:
        """The job's state now."""
        ...

    def read_log(self, record: dict[str, Any], offset: int) -> str:
        """Job output from byte `offset` on ('' when there is none yet)."""
        ...

    def cancel(self, record: dict[str, Any]) -> None:
        """Ask the scheduler to stop the job."""
        ...
