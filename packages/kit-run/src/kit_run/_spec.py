"""What a job is (`JobSpec`) and what submitting or querying one returns."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from kit_run._packaging import GitArchivePackager, PexPackager

__all__ = ["JobHandle", "JobSpec", "JobState", "JobStatus", "TERMINAL_STATES"]

JobState = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "UNKNOWN"]
TERMINAL_STATES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _argv(value: Any) -> list[str]:
    return [str(v) for v in value]


@attrs.define
class JobSpec:
    """A job to run: argv, where, with which environment, files and shipped code.

    With a `PexPackager` the job runs `[python] JOB_DIR/code/NAME.pex *command`; with a
    `GitArchivePackager` the archive is unpacked into `JOB_DIR/code`, the default workdir.
    `dependencies` are kit job ids (or Slurm job ids) that must succeed first.
    `env` must not hold secrets: pass those to `submit(secrets=...)`.
    """

    name: str
    command: list[str] = attrs.field(converter=_argv)
    workdir: str | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    files: dict[str, Path] = attrs.field(factory=dict)
    packager: PexPackager | GitArchivePackager | None = None
    ntasks: int = 1
    dependencies: list[str] = attrs.field(factory=list)
    experiment: str | None = None


@attrs.frozen
class JobStatus:
    """The state of a job as its scheduler reports it now."""

    job_id: str
    state: JobState
    exit_code: int | None = None
    scheduler_id: str | None = None
    reason: str | None = None

    @property
    def done(self) -> bool:
        """True once the job has finished, however it ended."""
        return self.state in TERMINAL_STATES


@attrs.frozen
class JobHandle:
    """What `submit` returns: ids to follow the job by, and its exit status when attached."""

    job_id: str
    experiment_id: str
    profile: str
    scheduler_id: str | None = None
    state: JobState = "PENDING"
    exit_code: int | None = None
    record_path: Path | None = None
    dry_run_text: str | None = None

    def follow_commands(self) -> list[str]:
        """The commands a user types to follow a detached job."""
        return [f"nemotron job status {self.job_id}", f"nemotron job logs {self.job_id}",
                f"nemotron job cancel {self.job_id}"]
