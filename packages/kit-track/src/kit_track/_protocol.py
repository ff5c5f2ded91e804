"""The tracker protocol: what every lineage backend (file, W&B, MLflow, fake) implements.

A `Run` (see `_run`) fans each call out to its trackers; a tracker never needs to know
about the others. Optional capabilities (tags, error records) are separate small
protocols, so a minimal tracker implements only `Tracker`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

__all__ = [
    "ErrorSink",
    "RunInfo",
    "RunStatus",
    "TagSink",
    "Tracker",
    "TrackerErrorRecord",
]

RunStatus = Literal["succeeded", "failed", "cancelled"]


@attrs.frozen(kw_only=True)
class RunInfo:
    """Everything known about a run when it starts; secrets already scrubbed."""

    run_id: str
    stage: str
    name: str
    config: Mapping[str, Any] = attrs.field(factory=dict)
    tags: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    git_commit: str | None = None
    git_dirty: bool | None = None
    code_digest: str | None = None  # `sha256:<hex>` of the shipped PEX/archive
    config_digest: str | None = None
    host: str = ""
    pid: int = 0
    rank: int = 0
    world_size: int = 1
    started_at: str = ""
    python: str = ""
    # The FileTracker's directory for this run, when one is in use: other trackers keep
    # their side files (W&B sync state) next to the run record.
    run_dir: str | None = None

    @property
    def is_rank_zero(self) -> bool:
        """Whether this process is the one that writes run records and publishes."""
        return self.rank == 0


@attrs.frozen(kw_only=True)
class TrackerErrorRecord:
    """One tracker failure, as stored in the run record and listed in the finish summary."""

    tracker: str
    operation: str
    error_type: str
    message: str
    time: str
    # How often this tracker failed in this operation; only the first is logged.
    count: int = 1


class Tracker(Protocol):
    """A lineage backend: a run with inputs, outputs, metrics and a final status."""

    @property
    def name(self) -> str:
        """Short backend name used in logs and error records (`file`, `wandb`, ...)."""
        ...

    def start(self, run: RunInfo) -> None:
        """Open the run in the backend."""
        ...

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Record that the run consumed the artifact `uri` stored at `path`."""
        ...

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Record that the run produced the artifact `uri` stored at `path`."""
        ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record scalar metrics, optionally at a training step."""
        ...

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Close the run with its final status."""
        ...


@runtime_checkable
class TagSink(Protocol):
    """A tracker that can add tags after the run started."""

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Add `tags` to the open run."""
        ...


@runtime_checkable
class ErrorSink(Protocol):
    """A tracker that stores the failures of its sibling trackers (the run record)."""

    def record_tracker_errors(self, errors: Sequence[TrackerErrorRecord]) -> None:
        """Store the run's tracker failures so far (the full list, latest counts)."""
        ...
