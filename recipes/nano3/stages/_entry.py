"""`python -m nano3.stages.<stage> --config FILE [overrides]`: config, run, train, publish.

The config is parsed once to fail fast (and for `--help`), then again inside the tracked run
so that every `${art:...}` input resolves while the run listens: that is how the run, and the
published model, learn their inputs. Only rank 0 publishes the `ModelArtifact`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from kit_config.errors import KitError
from nano3.stages._config import (
    PretrainConfig,
    RLConfig,
    SFTConfig,
    default_output_dir,
    validate_config,
)
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult, TeeMetrics

__all__ = ["CONFIG_DIR", "KitModelPublisher", "ModelPublisher", "main_for", "publish_result",
           "train"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
_CLASSES: dict[str, type[Any]] = {"pretrain": PretrainConfig, "sft": SFTConfig, "rl": RLConfig}


class ModelPublisher(Protocol):
    """The artifact registry boundary: publish a trained model, get its pinned URI."""

    def publish(self, result: StageResult, name: str) -> str: ...


class KitModelPublisher:
    """Publish through kit-artifacts (inputs default to the `${art:...}` the run used)."""

    def publish(self, result: StageResult, name: str) -> str:
        """Save a `ModelArtifact` for `result` under `name`; returns `art://name:vN`."""
        from kit_artifacts import ModelArtifact

        meta = {k: v for k, v in result.metadata.items() if v is not None}
        art = ModelArtifact(path=result.checkpoint, step=result.step,
                            final_loss=result.final_loss, metadata=meta)
        return str(art.save(name=name).uri)


def train(stage: str, cfg: Any, sink: MetricsSink | None = None) -> StageResult:
    """Run `cfg` with its backend; returns what the stage produced."""
    validate_config(stage, cfg)
    if cfg.output_dir is None:
        cfg.output_dir = default_output_dir(cfg.artifact_name)
    if cfg.backend == "local":
        if stage == "pretrain":
            from nano3.stages._local_pretrain import run_pretrain

            return run_pretrain(cfg, sink)
        if stage == "sft":
            from nano3.stages._local_sft import run_sft

            return run_sft(cfg, sink)
        from nano3.stages._local_rl import run_rl

        return run_rl(cfg, sink)
    if cfg.backend == "megatron-bridge":
        from nano3.stages._megatron_bridge import launch_megatron_bridge

        return launch_megatron_bridge(stage, cfg)
    from nano3.stages._nemo_rl import launch_nemo_rl

    return launch_nemo_rl(cfg)


def _rank() -> int:
    for name in ("RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    return 0


def publish_result(result: StageResult, name: str, publisher: ModelPublisher) -> str | None:
    """Publish on rank 0 only, and only a finished run; returns the URI or None."""
    if _rank() != 0 or not result.completed or not result.checkpoint:
        return None
    return publisher.publish(result, name)


def main_for(stage: str, argv: Sequence[str] | None = None,
             publisher: ModelPublisher | None = None) -> int:
    """The stage's command line; returns the exit code."""
    import kit_artifacts  # noqa: F401  (registers the ${art:...} resolver)
    from kit_config import cli, unstructure

    args = list(sys.argv[1:] if argv is None else argv)
    cls = _CLASSES[stage]
    default = CONFIG_DIR / stage / "default.yaml"
    prog = f"python -m nano3.stages.{stage}"
    try:
        first = cli(cls, config_file=default, argv=args, prog=prog)
        validate_config(stage, first)
        import kit_track

        with kit_track.start_run(stage=f"nano3.{stage}", config=unstructure(first),
                                 argv=[prog, *args]) as run:
            cfg = cli(cls, config_file=default, argv=args, prog=prog)  # resolves inside the run
            result = train(stage, cfg, TeeMetrics(PrintMetrics(f"[{stage}] "), run))
            uri = publish_result(result, cfg.artifact_name, publisher or KitModelPublisher())
            if uri is not None:
                tps = result.metadata.get("tokens_per_sec")
                print(f"[{stage}] published {uri} (step {result.step}, final_loss "
                      f"{result.final_loss}, {tps} tokens/s)", flush=True)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
