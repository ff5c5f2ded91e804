"""Planning shared by the stages: resolve inputs, hash the run, name the output."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from kit_config import atomic_write_json, config_digest
from nano3.data_prep._config import DataConfig, output_root
from nano3.data_prep._inputs import InputFile, WorkShard, plan_shards, resolve_dataset_files

__all__ = ["FORMAT_VERSION", "StagePlan", "plan_stage", "published_name"]

#: Bumped whenever our writers' output bytes change for the same inputs (2: a JSONL file is
#: cut into equal byte ranges, so shard boundaries moved).
FORMAT_VERSION = 2


def published_name(cfg: DataConfig) -> str:
    """The artifact name: a sampled run never publishes under the full run's name."""
    frac = cfg.sample.fraction
    if frac is not None and frac < 1 and "-sample" not in cfg.artifact_name:
        return f"{cfg.artifact_name}-sample{frac:g}"
    return cfg.artifact_name


@attrs.frozen
class StagePlan:
    """Everything decided before any shard runs: inputs, shards, run hash, output dir."""

    stage: str
    files: list[list[InputFile]]
    shards: list[WorkShard]
    run_hash: str
    out_dir: Path
    payload: dict[str, Any]


def plan_stage(cfg: DataConfig, *, stage: str, tokenizer: dict[str, Any] | None,
               settings: dict[str, Any]) -> StagePlan:
    """Resolve every dataset, cut shards and hash the run (the config is already valid)."""
    files = [resolve_dataset_files(ds) for ds in cfg.blend]
    payload = {
        "format_version": FORMAT_VERSION,
        "stage": stage,
        "blend": [attrs.asdict(ds) for ds in cfg.blend],
        "files": [[attrs.asdict(f) for f in fs] for fs in files],
        "tokenizer": tokenizer,
        "settings": settings,
        "sample": attrs.asdict(cfg.sample),
        "errors": attrs.asdict(cfg.errors),
    }
    digest = config_digest(payload)  # what decides the output bytes; names the folder
    out_dir = output_root(cfg) / published_name(cfg) / digest.removeprefix("sha256:")[:16]
    shards = plan_shards(cfg.blend, files, cfg.shard_bytes)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "run.json", {"run_hash": digest, **payload}, sort_keys=True)
    return StagePlan(stage=stage, files=files, shards=shards, run_hash=digest,
                     out_dir=out_dir, payload=payload)
