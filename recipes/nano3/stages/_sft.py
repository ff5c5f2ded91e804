"""SFT from packed Parquet (FORMATS.md section 5), starting from a pretrain checkpoint.

`nano3.formats.read_packed_rows` reads the rows (one packed bin each). The label at position t
is token t+1; it counts iff its loss-mask bit is 1 and t+1 does not start a new conversation.
Attention is block-diagonal causal (no conversation sees another) and position ids restart at
each start, so packing changes nothing that the model sees. Rows are padded to seq_length.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from kit_config import config_digest
from nano3.formats import FormatError, read_blend, read_packed_rows
from nano3.stages._checkpoint import read_saved_model
from nano3.stages._config import SFTConfig, default_output_dir
from nano3.stages._data_paths import find_blend_file
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
from nano3.stages._megatron import logits_at
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages.errors import DataFormatError

__all__ = ["PackedSFTDataset", "run_sft", "sft_forward_step"]


class PackedSFTDataset:
    """Indexable packed rows as Megatron-style sample dicts; index i reads row i mod rows of a
    per-epoch seeded permutation, so a run of any length is a pure function of the index."""

    def __init__(self, files: list[str], seq_length: int, seed: int) -> None:
        self.seq_length, self.seed = seq_length, seed
        try:
            packed = read_packed_rows(files)
        except FormatError as exc:
            raise DataFormatError.from_format(exc) from exc
        longest = int(np.diff(packed.offsets).max())
        if longest > seq_length + 1:
            raise DataFormatError(files[0], f"a packed row has {longest} tokens; the model's "
                                  f"seq_length={seq_length} fits {seq_length + 1}",
                                  hint=f"re-pack the SFT data with pack_size<={seq_length + 1}")
        self.rows = packed
        self._epoch: tuple[int, np.ndarray] | None = None  # (epoch, its permutation)

    def _row(self, i: int) -> int:
        """The row that sample i reads: one seeded permutation per epoch, drawn once (it is
        O(rows), and every sample of the epoch reads it)."""
        epoch, at = divmod(i, len(self.rows))
        if self._epoch is None or self._epoch[0] != epoch:
            self._epoch = (epoch, np.random.default_rng(self.seed + epoch).permutation(
                len(self.rows)))
        return int(self._epoch[1][at])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ids, mask, start_ids = self.rows.row(self._row(i))
        starts = start_ids.tolist() or [0]
        s = self.seq_length
        tokens, labels = np.zeros(s, np.int64), np.zeros(s, np.int64)
        loss = np.zeros(s, np.float32)
        tokens[:len(ids) - 1], labels[:len(ids) - 1] = ids[:-1], ids[1:]
        loss[:len(ids) - 1] = mask[1:]
        seg = np.full(s, len(starts), np.int64)  # padding: its own segment
        pos = np.arange(s, dtype=np.int64)
        bounds = [*starts, len(ids) - 1]
        for k, (a, b) in enumerate(itertools.pairwise(bounds)):
            seg[a:b] = k
            pos[a:b] -= a
            if 0 < a <= s:
                loss[a - 1] = 0.0  # the label that would start the next conversation
        pos[bounds[-1]:] -= bounds[-1]  # padding: positions from 0, like a conversation
        seg_t = torch.from_numpy(seg)
        causal = torch.ones(s, s, dtype=torch.bool).tril()
        allowed = causal & (seg_t[:, None] == seg_t[None, :])
        return {"tokens": torch.from_numpy(tokens), "labels": torch.from_numpy(labels),
                "loss_mask": torch.from_numpy(loss), "position_ids": torch.from_numpy(pos),
                # Megatron's convention: True = masked out; shape [1, s, s] per sample.
                "attention_mask": (~allowed).unsqueeze(0)}


def sft_forward_step(data_iterator: Iterator[Batch], model: Any) -> Any:
    """Loss on assistant labels only: logits are computed at those positions alone
    (`logits_at`), through the block-diagonal mask of the packed row."""
    batch = next(data_iterator)
    select = batch["loss_mask"] > 0
    logits = logits_at(model, batch["tokens"], batch["position_ids"], batch["attention_mask"],
                       select)

    def loss_func(output: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if output.shape[0] == 0:  # a micro batch without assistant labels teaches nothing
            loss = output.sum() * 0.0
        else:
            loss = torch.nn.functional.cross_entropy(output.float(), batch["labels"][select])
        return loss, {"loss": loss.detach().clone()}

    return logits, loss_func


def _split(blend_file: Path, name: str, seq_length: int, seed: int) -> PackedSFTDataset | None:
    try:
        entries = read_blend(blend_file)[name]
    except FormatError as exc:
        raise DataFormatError.from_format(exc) from exc
    files = [e.prefix for e in entries or []]
    return PackedSFTDataset(files, seq_length, seed) if files else None


def run_sft(cfg: SFTConfig, sink: MetricsSink | None = None, *,
            stop_at_step: int | None = None) -> StageResult:
    """Fine-tune the model `cfg.model` on `cfg.data`; returns the final checkpoint."""
    sink = sink or PrintMetrics("[sft] ")
    tr = cfg.trainer
    base = read_saved_model(cfg.model.path, cfg.model.step)
    blend = find_blend_file(cfg.data)
    train = _split(blend, "train", base.shape.seq_length, tr.seed)
    if train is None:
        raise DataFormatError(str(blend), "the train split is empty",
                              hint="re-run SFT data prep; it writes packed Parquet + blend.json")
    valid = _split(blend, "valid", base.shape.seq_length, tr.seed)
    if int(train.rows.ids.max(initial=0)) >= base.shape.vocab_size:
        raise DataFormatError(str(blend), f"token id {int(train.rows.ids.max())} >= the "
                              f"model's vocab_size={base.shape.vocab_size}",
                              hint="use the pretrain tokenizer for SFT data")

    def make_task(ctx: Context) -> Task:
        def batches(step: int) -> Batches:
            micro = micro_batches(train, step, tr.micro_batch_size, tr.grad_accum_steps, ctx)
            return Batches(micro, sum(int(b["tokens"].numel()) for b in micro),
                           {"assistant_tokens": float(sum(int(b["loss_mask"].sum())
                                                          for b in micro))})

        def evaluate() -> dict[str, float]:
            return held_out_loss(task, ctx, valid or train, tr.micro_batch_size,
                                 tr.eval_batches)

        task = Task(sft_forward_step, batches, evaluate)
        return task

    key = config_digest({"stage": "sft", "data": cfg.data.path, "model": cfg.model.path,
                         "model_step": cfg.model.step,
                         "optimizer": attrs.asdict(cfg.optimizer), "seed": tr.seed,
                         "max_steps": tr.max_steps, "micro_batch_size": tr.micro_batch_size,
                         "grad_accum_steps": tr.grad_accum_steps})
    tokenizer = base.info.get("tokenizer")
    out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    info = {"tokenizer": tokenizer, "data": cfg.data.path, "base_model": str(base.path)}
    result = run_loop(LoopSpec("sft", out_dir, base.shape, cfg.optimizer, tr, info, key, "loss",
                               make_task, init_weights=base.path, packed=True),
                      sink, stop_at_step)
    result.metadata.update({"tokenizer": tokenizer, "base_model": str(base.path),
                            "loss_on": "assistant_tokens", "train_rows": len(train)})
    return result
