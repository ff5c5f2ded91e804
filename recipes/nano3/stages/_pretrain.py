"""Pretraining: next-token loss on the blend of a data artifact, read by Megatron-Core's
`BlendedMegatronDatasetBuilder` (GPTDataset over our bin/idx shards and blend.json)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from kit_config import config_digest
from nano3.formats import Blend, FormatError, IndexedReader
from nano3.stages._config import PretrainConfig, default_output_dir
from nano3.stages._data_paths import load_blend
from nano3.stages._loop import (
    Batch,
    Batches,
    Context,
    LoopSpec,
    Task,
    held_out_loss,
    micro_batches,
    run_loop,
)
from nano3.stages._megatron import build_datasets
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages.errors import DataFormatError

__all__ = ["check_shards", "lm_forward_step", "run_pretrain"]


class _VocabChecked:
    """A GPTDataset whose samples are checked against the model's vocabulary as they are read
    (an id beyond it would fail deep in the embedding, or silently on GPU)."""

    def __init__(self, dataset: Any, vocab_size: int, where: Path) -> None:
        self.dataset, self.vocab_size, self.where = dataset, vocab_size, where

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = self.dataset[i]
        top = int(max(item["tokens"].max(), item["labels"].max()))
        if top >= self.vocab_size:
            raise DataFormatError(str(self.where), f"token id {top} >= model.vocab_size="
                                  f"{self.vocab_size}",
                                  hint="set model.vocab_size to the tokenizer's vocabulary size")
        return item


def check_shards(splits: Blend, seq_length: int) -> None:
    """Open every shard of the blend with our reader before Megatron-Core does: a damaged or
    missing shard is then one `DataFormatError` naming its file, and a train shard too short
    for one sample says to lower seq_length (Megatron's builder would fail or loop on it)."""
    for split, entries in splits.items():
        for entry in entries or []:
            try:
                shard = IndexedReader(entry.prefix)
            except FormatError as exc:
                raise DataFormatError.from_format(exc) from exc
            if split == "train" and shard.num_tokens <= seq_length:
                raise DataFormatError(entry.prefix, f"{shard.num_tokens} tokens, fewer than one "
                                      f"sample of model.seq_length+1={seq_length + 1}",
                                      hint="lower model.seq_length, or drop this shard")


def lm_forward_step(data_iterator: Iterator[Batch], model: Any) -> Any:
    """GPTModel's own forward with labels (per-token losses), averaged over the loss mask."""
    batch = next(data_iterator)
    out = model(batch["tokens"], batch["position_ids"], batch.get("attention_mask"),
                labels=batch["labels"])
    mask = batch["loss_mask"].float().view(-1)

    def loss_func(output: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = (output.float().view(-1) * mask).sum() / mask.sum().clamp(min=1.0)
        # A copy: the schedule divides `loss` in place by the number of micro batches.
        return loss, {"loss": loss.detach().clone()}

    return out, loss_func


def run_pretrain(cfg: PretrainConfig, sink: MetricsSink | None = None, *,
                 stop_at_step: int | None = None) -> StageResult:
    """Pretrain (or resume) from `cfg.data`; returns the final checkpoint and its numbers."""
    sink = sink or PrintMetrics("[pretrain] ")
    tr, seq = cfg.trainer, cfg.model.seq_length
    blend, splits = load_blend(cfg.data)
    if not splits["train"]:
        raise DataFormatError(str(blend), "the train split is empty",
                              hint="point `data` at a pretrain data artifact with a train split")
    check_shards(splits, cfg.model.seq_length)
    out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))

    def make_task(ctx: Context) -> Task:
        global_batch = tr.micro_batch_size * tr.grad_accum_steps * ctx.world_size
        train, valid = (None if ds is None else _VocabChecked(ds, cfg.model.vocab_size, blend)
                        for ds in build_datasets(blend, cfg.model, tr, global_batch,
                                                 out_dir / "dataset_cache"))

        def batches(step: int) -> Batches:
            micro = micro_batches(train, step, tr.micro_batch_size, tr.grad_accum_steps, ctx)
            return Batches(micro, tr.micro_batch_size * tr.grad_accum_steps * seq)

        def evaluate() -> dict[str, float]:
            return held_out_loss(task, ctx, valid, tr.micro_batch_size, tr.eval_batches)

        task = Task(lm_forward_step, batches, evaluate)
        return task

    key = config_digest({"stage": "pretrain", "data": cfg.data.path,
                         "model": attrs.asdict(cfg.model),
                         "optimizer": attrs.asdict(cfg.optimizer), "seed": tr.seed,
                         "max_steps": tr.max_steps, "micro_batch_size": tr.micro_batch_size,
                         "grad_accum_steps": tr.grad_accum_steps})
    info = {"tokenizer": cfg.data.tokenizer_uri, "data": cfg.data.path}
    result = run_loop(LoopSpec("pretrain", out_dir, cfg.model, cfg.optimizer, tr, info, key,
                               "loss", make_task), sink, stop_at_step)
    result.metadata.update({"seq_length": seq, "tokenizer": cfg.data.tokenizer_uri,
                            "global_batch_size": tr.micro_batch_size * tr.grad_accum_steps
                            * result.metadata.get("world_size", 1)})
    return result
