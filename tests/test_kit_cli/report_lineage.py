"""A tiny pipeline-shaped lineage from real registry publishes and FileTracker runs.

data prep -> pretrain -> SFT (with its own data prep) -> RL, each run logging metrics, the
way the nano3 stages do (`train/loss`, `eval/loss`, `lr`, `tokens_per_sec`, `train/reward`),
without training anything. Shared by the report unit tests, the browser test and the bench.
"""
from __future__ import annotations

import math
from pathlib import Path

import attrs

import kit_artifacts
import kit_track

__all__ = ["TinyPipeline", "build_tiny_pipeline"]


@attrs.frozen
class TinyPipeline:
    """What the lineage of `final` must show."""

    final: str
    artifacts: frozenset[str]
    runs: dict[str, str]  # run id -> stage
    edges: frozenset[tuple[str, str]]
    loss_points: dict[str, int]  # run id -> number of `train/loss` values logged


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "part-0.bin").write_bytes(name.encode() * 8)
    return folder


def build_tiny_pipeline(root: Path, *, steps: int = 12) -> TinyPipeline:
    """Publish the five stages' outputs under `$NEMOTRON_HOME` (set by the caller)."""
    runs: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    loss_points: dict[str, int] = {}
    uris: dict[str, str] = {}

    def stage(name: str, inputs: tuple[str, ...], output: str, metrics: tuple[str, ...],
              count: int) -> None:
        config = {"stage": name, "train": {"lr": 3e-4, "steps": count},
                  "wandb": {"api_key": "s3cr3t-value"}}
        with kit_track.start_run(stage=name, config=config) as run:
            for item in inputs:
                kit_artifacts.Artifact.from_uri(uris[item])
            for step in range(1, count + 1):
                values = {m: _value(m, step) * (1 + 0.1 * len(runs)) for m in metrics
                          if m != "eval/loss"}
                if values:
                    run.log_metrics(values, step)
                if "eval/loss" in metrics and step % 4 == 0:
                    run.log_metrics({"eval/loss": _value("eval/loss", step)}, step)
            ref = kit_artifacts.Artifact(path=str(_folder(root, output))).save(output)
        uris[output] = ref.uri
        run_node = f"run:{run.run_id}"
        runs[run.run_id] = name
        edges.update((uris[item], run_node) for item in inputs)
        edges.add((run_node, ref.uri))
        loss_points[run.run_id] = count if "train/loss" in metrics else 0

    train = ("train/loss", "eval/loss", "lr", "tokens_per_sec")
    stage("data_prep", (), "pretrain-data", (), 0)
    stage("pretrain", ("pretrain-data",), "pretrain-model", train, steps)
    stage("sft_data_prep", (), "sft-data", (), 0)
    stage("sft", ("pretrain-model", "sft-data"), "sft-model", train, steps - 2)
    stage("rl", ("sft-model",), "rl-model", ("train/loss", "train/reward", "lr"), steps - 4)
    return TinyPipeline(uris["rl-model"], frozenset(uris.values()), runs, frozenset(edges),
                        loss_points)


def _value(metric: str, step: int) -> float:
    if metric == "lr":
        return 3e-4 * min(1.0, step / 4)
    if metric == "tokens_per_sec":
        return 1000.0 + 10 * step
    if metric == "train/reward":
        return 0.1 + 0.05 * math.log(step)
    return 5.0 / math.sqrt(step) + (0.2 if metric.startswith("eval") else 0.0)
