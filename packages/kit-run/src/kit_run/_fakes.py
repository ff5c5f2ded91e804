"""In-library fakes for unit tests of code that submits jobs: no scheduler, no network."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import attrs

from kit_run._backend import PreparedJob
from kit_run._spec import JobState, JobStatus
from kit_run._transport import CommandResult

__all__ = ["FakeExecutor", "FakeTransport"]


class FakeExecutor:
    """An `Executor` that records submissions; tests set each job's outcome and output."""

    kind = "fake"

    def __init__(self, *, state: JobState = "SUCCEEDED", exit_code: int | None = 0,
                 output: str = "") -> None:
        self.submitted: list[PreparedJob] = []
        self.cancelled: list[str] = []
        self.state: JobState = state
        self.exit_code = exit_code
        self.output = output
        self._ids = itertools.count(1000)

    def submit(self, job: PreparedJob, record: dict[str, Any]) -> str:
        """Remember the job and hand out the next fake scheduler id."""
        self.submitted.append(job)
        return str(next(self._ids))

    def status(self, record: dict[str, Any]) -> JobStatus:
        """The configured state (CANCELLED once cancelled)."""
        state: JobState = "CANCELLED" if record["job_id"] in self.cancelled else self.state
        code = self.exit_code if state in ("SUCCEEDED", "FAILED") else None
        return JobStatus(record["job_id"], state, code, record.get("scheduler_id"))

    def read_log(self, record: dict[str, Any], offset: int) -> str:
        """The configured output from `offset` on."""
        return self.output.encode()[offset:].decode()

    def cancel(self, record: dict[str, Any]) -> None:
        """Mark the job cancelled."""
        self.cancelled.append(record["job_id"])


@attrs.define
class FakeTransport:
    """A `Transport` that records commands and answers from a table of prefixes."""

    answers: dict[str, CommandResult] = attrs.field(factory=dict)
    commands: list[str] = attrs.field(factory=list)
    puts: list[tuple[Path, str]] = attrs.field(factory=list)

    def run(self, command: str) -> CommandResult:
        """Answer with the first configured result whose key occurs in the command."""
        self.commands.append(command)
        for key, result in self.answers.items():
            if key in command:
                return result
        return CommandResult(0, "", "")

    def put(self, local: Path, remote: str) -> None:
        """Record the copy."""
        self.puts.append((local, remote))

    def close(self) -> None:
        """Nothing to release."""
