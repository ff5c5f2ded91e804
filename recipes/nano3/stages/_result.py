"""What a training stage hands back to its entry point for publishing."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["MetricsSink", "PrintMetrics", "StageResult", "TeeMetrics"]


@dataclass
class StageResult:
    """The trained model's location and the numbers its `ModelArtifact` records."""

    checkpoint: str
    step: int
    final_loss: float | None
    completed: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)


class MetricsSink(Protocol):
    """Where a training loop reports metrics (a kit_track run, or stdout)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...


class PrintMetrics:
    """Print metrics as one line per call; the default sink, and a fake for tests."""

    def __init__(self, prefix: str = "", quiet: bool = False) -> None:
        self.prefix = prefix
        self.quiet = quiet
        self.history: list[tuple[int | None, dict[str, float]]] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record the metrics and print them unless quiet."""
        self.history.append((step, dict(metrics)))
        if not self.quiet:
            shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            print(f"{self.prefix}step {step}: {shown}", flush=True)


class TeeMetrics:
    """Send every metrics call to several sinks (stdout and the tracked run)."""

    def __init__(self, *sinks: MetricsSink) -> None:
        self.sinks = sinks

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Forward to each sink in order."""
        for sink in self.sinks:
            sink.log_metrics(metrics, step)
