"""SFT data prep: chat JSONL -> chat template -> loss mask -> packed Parquet per split.

Run: `python -m nano3.data_prep.sft --config FILE`. Each shard is packed on
its own (first-fit-decreasing, seeded), so shards stay independent resumable units; the
merge writes one Parquet per split (`training.parquet`, `validation.parquet`,
`test.parquet`, shard order) and `blend.json`.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit_config import atomic_write_json
from nano3.data_prep._config import SPLITS, SFTDataConfig
from nano3.data_prep._inputs import WorkShard
from nano3.data_prep._publish import common_metadata, source_datasets
from nano3.data_prep._runner import resolve_rank, run_shards, wait_for_receipts
from nano3.data_prep._sft_work import SFTShardProcessor
from nano3.data_prep._stage import plan_stage, published_name
from nano3.data_prep.pretrain import tokenizer_identity
from nano3.formats import (
    BLEND_FILENAME,
    SFT_SPLIT_FILES,
    Tokenizer,
    concat_packed_parquet,
    load_tokenizer,
    write_blend,
)

if TYPE_CHECKING:
    from kit_artifacts import SFTDataArtifact

__all__ = ["STAGE", "main", "merge_sft", "prepare_sft"]

STAGE = "nano3.data-prep-sft"


def merge_sft(out_dir: Path, shards: Sequence[WorkShard],
              receipts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One Parquet per split plus `blend.json` and `packing_metadata.json`; returns totals."""
    paths: dict[str, str | None] = {}
    for split in SPLITS:
        parts = [out_dir / split / f"{s.key}.parquet" for s, r in zip(shards, receipts,
                                                                       strict=True)
                 if r["sequences"].get(split)]
        if parts:
            concat_packed_parquet(parts, out_dir / SFT_SPLIT_FILES[split])
            paths[split] = str(out_dir / SFT_SPLIT_FILES[split])
        else:
            paths[split] = None
    write_blend(out_dir / BLEND_FILENAME,
                {s: [(1.0, p)] if p else None for s, p in paths.items()})
    totals: dict[str, Counter[str]] = {k: Counter() for k in
                                       ("tokens", "sequences", "bins", "loss_tokens")}
    skipped: Counter[str] = Counter()
    for r in receipts:
        for k, c in totals.items():
            c.update(r[k])
        skipped.update(r["skipped"])
    summary = {k: {s: c.get(s, 0) for s in SPLITS} for k, c in totals.items()}
    atomic_write_json(out_dir / "packing_metadata.json", summary, sort_keys=True)
    return {"paths": paths, "summary": summary, "skipped": dict(skipped),
            "num_shards": sum(1 for p in paths.values() if p)}


def prepare_sft(cfg: SFTDataConfig, *, tokenizer: Tokenizer | None = None
                ) -> SFTDataArtifact | None:
    """Tokenize, mask and pack this rank's shards; rank 0 merges and returns the artifact."""
    t0 = time.monotonic()
    tok = tokenizer if tokenizer is not None else load_tokenizer(cfg.tokenizer)
    plan = plan_stage(cfg, stage=STAGE, tokenizer=tokenizer_identity(tok), settings={
        "pack_size": cfg.pack_size, "overlong": cfg.overlong, "shard_bytes": cfg.shard_bytes,
        "seed": cfg.seed, "turn_start": cfg.template.turn_start,
        "turn_end": cfg.template.turn_end})
    rank, world = resolve_rank(cfg.parallel.rank, cfg.parallel.world_size)
    run_shards(SFTShardProcessor(cfg, tok), plan.shards, plan.out_dir, rank=rank,
               world_size=world, num_workers=cfg.parallel.num_workers,
               progress=cfg.parallel.progress, label=f"sft {cfg.artifact_name}")
    if rank != 0:
        return None
    receipts = wait_for_receipts(plan.out_dir, plan.shards, cfg.parallel.merge_timeout_s)
    merged = merge_sft(plan.out_dir, plan.shards, receipts)
    summary = merged["summary"]
    rows = Counter[int]()
    for shard, r in zip(plan.shards, receipts, strict=True):
        rows[shard.dataset_index] += sum(r["sequences"].values())
    from kit_artifacts import SFTDataArtifact

    return SFTDataArtifact(
        path=str(plan.out_dir),
        total_tokens=sum(summary["tokens"].values()),
        total_sequences=sum(summary["sequences"].values()),
        elapsed_sec=round(time.monotonic() - t0, 3),
        pack_size=cfg.pack_size,
        blend_path=str(plan.out_dir / BLEND_FILENAME),
        num_shards=merged["num_shards"],
        source_datasets=source_datasets(cfg.blend, plan.files,
                                        [rows[i] for i in range(len(cfg.blend))]),
        tokenizer_uri=tok.uri,
        training_path=merged["paths"]["train"],
        validation_path=merged["paths"]["valid"],
        test_path=merged["paths"]["test"],
        metadata_path=str(plan.out_dir / "packing_metadata.json"),
        metadata=common_metadata(plan.run_hash, merged["skipped"], {
            "tokenizer": tokenizer_identity(tok), "packing": summary,
            "overlong": cfg.overlong, "error_policy": cfg.errors.policy,
            "sample_fraction": cfg.sample.fraction}),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    from kit_track import stage_main

    return stage_main(SFTDataConfig, lambda cfg, _run: prepare_sft(cfg), stage=STAGE, argv=argv,
                      artifact_name=published_name)


if __name__ == "__main__":
    raise SystemExit(main())
