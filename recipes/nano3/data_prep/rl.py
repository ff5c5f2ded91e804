"""RL data prep: prompt/answer JSONL -> one JSONL per split + `manifest.json`.

Run: `python -m nano3.data_prep.rl --config FILE`. Each shard writes
`SPLIT/KEY.jsonl`; the merge concatenates them in shard order into `train.jsonl`,
`val.jsonl`, `test.jsonl` and lists every shard in the manifest (the earlier kit kept only
the first shard of each split, silently dropping data). The layout is `nano3.formats`
(FORMATS.md section 4).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kit_config import atomic_write_bytes
from nano3.data_prep._config import SPLITS, RLDataConfig, parse_split
from nano3.data_prep._inputs import IssueCounter, WorkShard, iter_record_batches
from nano3.data_prep._pretrain_work import split_draws
from nano3.data_prep._publish import common_metadata, source_datasets
from nano3.data_prep._runner import ProgressSink, resolve_rank, run_shards, wait_for_receipts
from nano3.data_prep._stage import plan_stage, published_name
from nano3.formats import RL_MANIFEST_FILENAME, RL_SPLITS, encode_rl_record, write_rl_splits

if TYPE_CHECKING:
    from kit_artifacts import SplitJsonlDataArtifact

__all__ = [
    "RLShardProcessor",
    "STAGE",
    "main",
    "merge_rl",
    "prepare_rl",
]

STAGE = "nano3.data-prep-rl"


class RLShardProcessor:
    """Validates prompt/answer records and writes them, keys sorted, per split."""

    def __init__(self, cfg: RLDataConfig) -> None:
        self.cfg = cfg

    def process(self, shard: WorkShard, out_dir: Path, sink: ProgressSink) -> dict[str, Any]:
        """Write `out_dir/SPLIT/KEY.jsonl`; returns record counts per split and skips."""
        cfg, ds = self.cfg, self.cfg.blend[shard.dataset_index]
        fields = [cfg.prompt_field, cfg.answer_field]
        rng = np.random.default_rng([cfg.seed, shard.dataset_index, shard.file_index,
                                     shard.start])
        fractions = parse_split(ds.split)
        issues = IssueCounter(cfg.errors.policy)
        lines: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
        for batch in iter_record_batches(shard, fields, cfg.batch_docs, issues):
            good = []
            for rec, pos in zip(batch.records, batch.positions, strict=True):
                bad = [f for f in fields if not isinstance(rec[f], str) or not rec[f].strip()]
                if bad:
                    issues.report("bad_field_type", file=shard.file, pos=pos,
                                  detail=f"field {bad[0]!r} must be a non-empty string")
                    continue
                good.append(encode_rl_record(rec[cfg.prompt_field], rec[cfg.answer_field],
                                             {k: v for k, v in rec.items() if k not in fields}))
            split, keep = split_draws(rng, len(good), fractions, cfg.sample.fraction)
            for i in np.flatnonzero(keep).tolist():
                lines[int(split[i])].append(good[i])
            sink.advance(batch.nbytes, 0)
        files, counts = [], {}
        for s, items in lines.items():
            if items:
                rel = f"{SPLITS[s]}/{shard.key}.jsonl"
                atomic_write_bytes(out_dir / rel, b"".join(items))
                files.append(rel)
                counts[SPLITS[s]] = len(items)
        return {"output_files": files, "records": counts, "skipped": dict(issues.counts),
                "dataset": shard.dataset}


def merge_rl(cfg: RLDataConfig, run_hash: str, out_dir: Path, shards: Sequence[WorkShard],
             receipts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate shards per split and write `manifest.json`; returns totals."""
    parts = {key: [out_dir / split / f"{s.key}.jsonl"
                   for s, r in zip(shards, receipts, strict=True) if r["records"].get(split)]
             for split, key in RL_SPLITS.items()}
    counts = {RL_SPLITS[s]: sum(r["records"].get(s, 0) for r in receipts) for s in SPLITS}
    manifest = write_rl_splits(out_dir, parts,
                               source_splits={ds.name: ds.split for ds in cfg.blend},
                               run_hash=run_hash, counts=counts)
    skipped: Counter[str] = Counter()
    for r in receipts:
        skipped.update(r["skipped"])
    return {"manifest": manifest, "counts": counts, "skipped": dict(skipped)}


def prepare_rl(cfg: RLDataConfig) -> SplitJsonlDataArtifact | None:
    """Split this rank's shards; rank 0 merges, writes the manifest, returns the artifact."""
    t0 = time.monotonic()
    plan = plan_stage(cfg, stage=STAGE, tokenizer=None, settings={
        "prompt_field": cfg.prompt_field, "answer_field": cfg.answer_field,
        "shard_bytes": cfg.shard_bytes, "seed": cfg.seed})
    rank, world = resolve_rank(cfg.parallel.rank, cfg.parallel.world_size)
    run_shards(RLShardProcessor(cfg), plan.shards, plan.out_dir, rank=rank, world_size=world,
               num_workers=cfg.parallel.num_workers, progress=cfg.parallel.progress,
               label=f"rl {cfg.artifact_name}")
    if rank != 0:
        return None
    receipts = wait_for_receipts(plan.out_dir, plan.shards, cfg.parallel.merge_timeout_s)
    merged = merge_rl(cfg, plan.run_hash, plan.out_dir, plan.shards, receipts)
    rows = Counter[int]()
    for shard, r in zip(plan.shards, receipts, strict=True):
        rows[shard.dataset_index] += sum(r["records"].values())
    from kit_artifacts import SplitJsonlDataArtifact

    m = merged["manifest"]
    return SplitJsonlDataArtifact(
        path=str(plan.out_dir / RL_MANIFEST_FILENAME),
        total_sequences=sum(merged["counts"].values()),
        elapsed_sec=round(time.monotonic() - t0, 3),
        train=m["train"] or None, val=m["val"] or None, test=m["test"] or None,
        source_datasets=source_datasets(cfg.blend, plan.files,
                                        [rows[i] for i in range(len(cfg.blend))],
                                        text_field=False),
        metadata=common_metadata(plan.run_hash, merged["skipped"], {
            "counts": merged["counts"], "shards": m["shards"],
            "error_policy": cfg.errors.policy, "sample_fraction": cfg.sample.fraction}),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    from kit_track import stage_main

    return stage_main(RLDataConfig, lambda cfg, _run: prepare_rl(cfg), stage=STAGE, argv=argv,
                      artifact_name=published_name)


if __name__ == "__main__":
    raise SystemExit(main())
