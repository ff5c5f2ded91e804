"""One training stage as `kit_track.stage_main` runs it: train with the backend, return the model.

`train` dispatches a typed config to its backend. `model_work(stage)` is the stage's
`work(cfg, run)`: metrics go to stdout and to the tracked run, and a finished run becomes
an unsaved `ModelArtifact` that `stage_main` publishes from rank 0 under `artifact_name`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nano3.stages._result import MetricsSink, PrintMetrics, StageResult, TeeMetrics

if TYPE_CHECKING:
    from kit_artifacts import ModelArtifact
    from kit_track import Run

__all__ = ["model_work", "train"]


def train(stage: str, cfg: Any, sink: MetricsSink | None = None) -> StageResult:
    """Run `cfg` (already validated by `structure`) with its backend."""
    if cfg.backend == "megatron-core":
        if stage == "pretrain":
            from nano3.stages._pretrain import run_pretrain

            return run_pretrain(cfg, sink)
        if stage == "sft":
            from nano3.stages._sft import run_sft

            return run_sft(cfg, sink)
        from nano3.stages._rl import run_rl

        return run_rl(cfg, sink)
    if cfg.backend == "megatron-bridge":
        from nano3.stages._megatron_bridge import launch_megatron_bridge

        return launch_megatron_bridge(stage, cfg)
    from nano3.stages._nemo_rl import launch_nemo_rl

    return launch_nemo_rl(cfg)


def model_work(stage: str) -> Callable[[Any, Run], ModelArtifact | None]:
    """The `work(cfg, run)` of a training stage: the model to publish, or None if unfinished."""

    def work(cfg: Any, run: Run) -> ModelArtifact | None:
        result = train(stage, cfg, TeeMetrics(PrintMetrics(f"[{stage}] "), run))
        if not result.completed or not result.checkpoint:
            return None
        from kit_artifacts import ModelArtifact

        meta = {k: v for k, v in result.metadata.items() if v is not None}
        print(f"[{stage}] finished at step {result.step}, final_loss {result.final_loss}, "
              f"{meta.get('tokens_per_sec')} tokens/s", flush=True)
        return ModelArtifact(path=result.checkpoint, step=result.step,
                             final_loss=result.final_loss, metadata=meta)

    return work
