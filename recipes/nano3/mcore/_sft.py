"""SFT with Megatron-Core from packed Parquet (FORMATS.md section 5), from a pretrain checkpoint.

`nano3.formats.read_packed_rows` reads the rows (one packed bin each). The label at position t
is token t+1; it counts iff its loss-mask bit is 1 and t+1 does not start a new conversation.
Attention is block-diagonal causal (no conversation sees another) and position ids restart at
each start, so packing changes nothing that the model sees. Rows are padded to seq_length.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nano3.formats import FormatError, read_blend, read_packed_rows
from nano3.mcore._checkpoint import read_model_shape
from nano3.mcore._config import OptimSettings, TrainSettings
from nano3.mcore._pretrain import MetricsSink, TrainResult, run_training
from nano3.mcore.errors import SFTDataError

__all__ = ["PackedSFTDataset", "train_sft"]


class PackedSFTDataset:
    """Indexable packed rows as Megatron-style sample dicts; index i reads row i mod rows of a
    per-epoch seeded permutation, so a run of any length is a pure function of the index."""

    def __init__(self, files: list[str], seq_length: int, seed: int) -> None:
        self.seq_length, self.seed = seq_length, seed
        try:
            packed = read_packed_rows(files)
        except FormatError as exc:
            raise SFTDataError(f"{exc.path}: {exc.detail}",
                               hint=exc.hint or "check the SFT data artifact") from exc
        longest = int(np.diff(packed.offsets).max())
        if longest > seq_length + 1:
            raise SFTDataError(f"{', '.join(files)}: a row of {longest} tokens does not fit "
                               f"seq_length={seq_length}",
                               hint="pack with pack_size <= the model's seq_length")
        self.rows = packed

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        n = len(self.rows)
        perm = np.random.default_rng(self.seed + i // n).permutation(n)
        ids, mask, start_ids = self.rows.row(int(perm[i % n]))
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


def train_sft(pretrained: Path, optim: OptimSettings, trainer: TrainSettings, blend_path: Path,
              output_dir: Path, sink: MetricsSink,
              stop_at_step: int | None = None) -> TrainResult:
    """Fine-tune the model of a pretrain checkpoint (an iter_NNNNNNN folder) on the packed
    Parquet files of an SFT blend.json; resumes from output_dir's own checkpoints."""
    shape = read_model_shape(pretrained)
    blend = read_blend(blend_path)

    def datasets(global_batch: int) -> tuple[Any, Any]:
        def split(name: str) -> PackedSFTDataset | None:
            entries = blend[name]
            return PackedSFTDataset([e.prefix for e in entries], shape.seq_length,
                                    trainer.seed) if entries else None

        train = split("train")
        if train is None:
            raise SFTDataError(f"{blend_path}: the train split is empty",
                               hint="point at an SFT data artifact's blend.json")
        return train, split("valid")

    return run_training(shape, optim, trainer, output_dir, sink, datasets, pretrained,
                        stop_at_step, packed=True)
