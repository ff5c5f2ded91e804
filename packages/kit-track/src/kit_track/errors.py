"""Errors of kit-track, all rooted in `kit_config.errors.KitError`.

Each concrete error also derives from the builtin it is, carries its context as attributes,
and reads as one line: what is wrong, where, how to fix it. Tracker *backend* failures
during a run are not raised to the training code (see the failure policy in `_guard`); they
are wrapped in `TrackerError` only to be recorded and reported.
"""
from __future__ import annotations

from collections.abc import Sequence

from kit_config.errors import KitError

__all__ = [
    "CredentialsError",
    "RunNotFoundError",
    "RunRecordError",
    "RunStateError",
    "SyncError",
    "TrackError",
    "TrackerConfigError",
    "TrackerError",
]


class TrackError(KitError):
    """Base of kit-track's errors: a run record, tracker or credential is wrong."""


class RunNotFoundError(TrackError, LookupError):
    """No run record with this id exists under the runs directory."""

    def __init__(self, run_id: str, runs_dir: str, known: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.runs_dir = runs_dir
        self.known = tuple(known)
        recent = ", ".join(self.known[-3:]) if self.known else "none"
        super().__init__(
            f"run {run_id!r} not found in {runs_dir}",
            hint=f"list runs with `nemotron runs ls` (most recent: {recent})",
        )


class RunRecordError(TrackError, ValueError):
    """A run record file is unreadable or malformed."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(
            f"run record {where} is invalid: {reason}",
            hint="restore the file or delete the run directory",
        )


class RunStateError(TrackError, RuntimeError):
    """A run-level operation was used at the wrong time (nested run, no active run)."""

    def __init__(self, message: str, *, hint: str | None = None, run_id: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message, hint=hint)


class TrackerConfigError(TrackError, ValueError):
    """A tracker setting (name, project, option) is invalid."""

    def __init__(self, key: str, value: object, reason: str, *, hint: str | None = None) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"tracker setting {key}={value!r} is invalid: {reason}", hint=hint)


class TrackerError(TrackError, RuntimeError):
    """A tracker backend failed during `operation`; recorded, logged once, never fatal."""

    def __init__(self, tracker: str, operation: str, cause: BaseException) -> None:
        self.tracker = tracker
        self.operation = operation
        self.cause = cause
        reason = f"{type(cause).__name__}: {cause}".splitlines()[0] if str(cause) else type(
            cause
        ).__name__
        super().__init__(
            f"tracker {tracker} failed in {operation}: {reason}",
            hint="the run continues; lineage stays complete in the local run record",
        )


class CredentialsError(TrackError, PermissionError):
    """A service needs credentials that are neither in the environment nor in netrc."""

    def __init__(self, service: str, variable: str, host: str) -> None:
        self.service = service
        self.variable = variable
        self.host = host
        super().__init__(
            f"no {service} credentials found (env {variable} or ~/.netrc machine {host})",
            hint=f"export {variable}=... or run `wandb login`",
        )


class SyncError(TrackError, RuntimeError):
    """Replaying a local run record to a remote tracker failed for one run."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(
            f"sync of run {run_id!r} failed: {reason}",
            hint="fix the cause and rerun `nemotron sync`; finished items are not repeated",
        )
