"""`NoOpTracker` and `FakeTracker`, the in-memory tracker users assert against in tests."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit_track._protocol import RunInfo, RunStatus, TrackerErrorRecord

__all__ = ["FakeTracker", "NoOpTracker"]


class NoOpTracker:
    """A tracker that records nothing (for `trackers=[NoOpTracker()]`: no run record)."""

    name = "noop"

    def start(self, run: RunInfo) -> None:
        """Do nothing."""

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Do nothing."""

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Do nothing."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Do nothing."""

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Do nothing."""


class FakeTracker:
    """Keeps every call in memory; can be told to raise, to exercise the failure policy.

    `fail={"log_metrics": RuntimeError("down")}` makes that operation raise each time.
    """

    def __init__(self, name: str = "fake", *, fail: Mapping[str, BaseException] | None = None):
        self.name = name
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.run: RunInfo | None = None
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.metrics: list[tuple[int | None, dict[str, float]]] = []
        self.tags: list[str] = []
        self.errors: list[TrackerErrorRecord] = []
        self.status: RunStatus | None = None
        self.exit_code: int | None = None

    def _call(self, op: str, **kwargs: Any) -> None:
        self.calls.append((op, kwargs))
        if op in self.fail:
            raise self.fail[op]

    def start(self, run: RunInfo) -> None:
        """Remember the run."""
        self._call("start", run=run)
        self.run = run

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Remember an input."""
        self._call("log_input", uri=uri, artifact_type=artifact_type, path=path)
        self.inputs.append(uri)

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Remember an output."""
        self._call("log_output", uri=uri, artifact_type=artifact_type, path=path)
        self.outputs.append(uri)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Remember metrics."""
        self._call("log_metrics", metrics=dict(metrics), step=step)
        self.metrics.append((step, dict(metrics)))

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Remember tags."""
        self._call("add_tags", tags=tags)
        self.tags.extend(t for t in tags if t not in self.tags)

    def record_tracker_errors(self, errors: Sequence[TrackerErrorRecord]) -> None:
        """Remember the run's tracker failures (latest full list)."""
        self._call("record_tracker_errors", errors=list(errors))
        self.errors = list(errors)

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Remember the final status."""
        self._call("finish", status=status, exit_code=exit_code)
        self.status = status
        self.exit_code = exit_code

    def operations(self) -> list[str]:
        """The names of the calls received, in order."""
        return [op for op, _ in self.calls]

    def assert_lineage(
        self, *, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = ()
    ) -> None:
        """Assert that the run recorded exactly these inputs and outputs (any order)."""
        if sorted(self.inputs) != sorted(inputs) or sorted(self.outputs) != sorted(outputs):
            raise AssertionError(
                f"lineage mismatch: inputs {self.inputs} vs {list(inputs)}, "
                f"outputs {self.outputs} vs {list(outputs)}"
            )
