"""Pretrain data prep: text datasets -> Megatron bin/idx shards + per-split `blend.json`.

Run: `python -m nano3.data_prep.pretrain --config FILE`. As a multi-task
Slurm job every task runs the same command: each takes its shards by rank
(SLURM_PROCID/SLURM_NTASKS), and rank 0 merges and publishes once.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from nano3.data_prep._config import PretrainDataConfig
from nano3.data_prep._pretrain_work import PretrainShardProcessor, merge_pretrain
from nano3.data_prep._publish import common_metadata, source_datasets
from nano3.data_prep._runner import resolve_rank, run_shards, wait_for_receipts
from nano3.data_prep._stage import plan_stage, published_name
from nano3.formats import BLEND_FILENAME, Tokenizer, load_tokenizer, token_dtype

if TYPE_CHECKING:
    from kit_artifacts import PretrainBlendsArtifact

__all__ = ["STAGE", "main", "prepare_pretrain", "tokenizer_identity"]

STAGE = "nano3.data-prep-pretrain"


def tokenizer_identity(tok: Tokenizer) -> dict[str, object]:
    """What identifies a tokenizer in the run hash and the artifact."""
    return {"uri": tok.uri, "backend": tok.backend, "digest": tok.digest,
            "vocab_size": tok.vocab_size, "eod_id": tok.eod_id}


def prepare_pretrain(cfg: PretrainDataConfig, *, tokenizer: Tokenizer | None = None
                     ) -> PretrainBlendsArtifact | None:
    """Tokenize this rank's shards; on rank 0 wait for all, write the blend, return the artifact.

    Returns None on other ranks. The artifact is not yet saved: the caller publishes it
    (`artifact.save(name=published_name(cfg))`), so tests can inspect it first.
    """
    t0 = time.monotonic()
    tok = tokenizer if tokenizer is not None else load_tokenizer(cfg.tokenizer)
    plan = plan_stage(cfg, stage=STAGE, tokenizer=tokenizer_identity(tok),
                      settings={"append_eod": cfg.append_eod, "shard_bytes": cfg.shard_bytes,
                                "seed": cfg.seed})
    rank, world = resolve_rank(cfg.parallel.rank, cfg.parallel.world_size)
    run_shards(PretrainShardProcessor(cfg, tok), plan.shards, plan.out_dir, rank=rank,
               world_size=world, num_workers=cfg.parallel.num_workers,
               progress=cfg.parallel.progress, label=f"pretrain {cfg.artifact_name}")
    if rank != 0:
        return None
    receipts = wait_for_receipts(plan.out_dir, plan.shards, cfg.parallel.merge_timeout_s)
    totals = merge_pretrain(cfg, plan.out_dir, plan.shards, receipts)
    from kit_artifacts import PretrainBlendsArtifact

    return PretrainBlendsArtifact(
        path=str(plan.out_dir),
        total_tokens=totals["total_tokens"],
        total_sequences=totals["total_sequences"],
        elapsed_sec=round(time.monotonic() - t0, 3),
        num_shards=totals["num_shards"],
        blend_path=str(plan.out_dir / BLEND_FILENAME),
        train_tokens=totals["split_tokens"]["train"],
        valid_tokens=totals["split_tokens"]["valid"],
        test_tokens=totals["split_tokens"]["test"],
        source_datasets=source_datasets(cfg.blend, plan.files, totals["docs_by_dataset"]),
        tokenizer_uri=tok.uri,
        metadata=common_metadata(plan.run_hash, totals["skipped"], {
            "tokenizer": tokenizer_identity(tok),
            "dtype": np.dtype(token_dtype(tok.vocab_size)).name,
            "append_eod": cfg.append_eod,
            "error_policy": cfg.errors.policy,
            "sample_fraction": cfg.sample.fraction,
        }),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    from kit_track import stage_main

    return stage_main(PretrainDataConfig, lambda cfg, _run: prepare_pretrain(cfg), stage=STAGE,
                      argv=argv, artifact_name=published_name)


if __name__ == "__main__":
    raise SystemExit(main())
