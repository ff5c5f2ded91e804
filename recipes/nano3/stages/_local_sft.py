"""Local PyTorch SFT: packed conversations, loss only on assistant tokens (the loss mask)."""
from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from nano3.formats import PackedRows
from nano3.stages._checkpoint import load_model_dir, model_info, resume_key
from nano3.stages._config import SFTConfig, default_output_dir
from nano3.stages._loop import LoopSpec, run_loop
from nano3.stages._model import DecoderLM
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages._runtime import setup_runtime
from nano3.stages._sft_data import SFTBatch, find_sft_splits, load_packed_rows, sft_batch
from nano3.stages.errors import DataFormatError

__all__ = ["masked_loss", "run_sft"]


def masked_loss(model: torch.nn.Module, inputs: torch.Tensor, segments: torch.Tensor,
                labels: torch.Tensor, weights: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over the assistant label positions, and their count.

    Only the selected positions go through the vocabulary projection.
    """
    select = weights > 0
    logits = model(inputs, segments, select)
    count = select.sum().float()
    if logits.shape[0] == 0:
        return logits.sum() * 0.0, count
    return F.cross_entropy(logits, labels[select]), count


class _Order:
    """Row order for global sample k: a seeded permutation per epoch."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self._cache: dict[int, np.ndarray] = {}

    def row(self, k: int) -> int:
        epoch, pos = divmod(k, self.n)
        perm = self._cache.get(epoch)
        if perm is None:
            self._cache = {epoch: np.random.default_rng([self.seed, 2, epoch]).permutation(self.n)}
            perm = self._cache[epoch]
        return int(perm[pos])


def _check_rows(rows: PackedRows, max_len: int, vocab: int, where: str) -> None:
    longest = int(np.diff(rows.offsets).max())
    if longest > max_len:
        raise DataFormatError(where, f"a packed row has {longest} tokens, more than the "
                              f"model's seq_length+1={max_len}",
                              hint=f"re-pack the SFT data with pack_size<={max_len}")
    if rows.ids.size and int(rows.ids.max()) >= vocab:
        raise DataFormatError(where, f"token id {int(rows.ids.max())} >= the model's "
                              f"vocab_size={vocab}", hint="use the pretrain tokenizer for SFT data")
    if not rows.mask.any():
        raise DataFormatError(where, "loss_mask is 0 everywhere: no assistant tokens to learn")


def run_sft(cfg: SFTConfig, sink: MetricsSink | None = None, *,
            stop_at_step: int | None = None) -> StageResult:
    """Fine-tune the model `cfg.model` on `cfg.data`; returns the final checkpoint."""
    sink = sink or PrintMetrics("[sft] ")
    rt = setup_runtime(cfg.trainer)
    try:
        base = load_model_dir(cfg.model.path)
        mcfg = base.config
        splits = find_sft_splits(cfg.data)
        train = load_packed_rows(splits["train"])
        held = load_packed_rows(splits["valid"]) if splits["valid"] else train
        where = str(splits["train"][0])
        for rows in (train, held):
            _check_rows(rows, mcfg.seq_length + 1, mcfg.vocab_size, where)
        model = DecoderLM(mcfg)
        model.load_state_dict(base.weights)
        model.to(rt.device)
        tr = cfg.trainer
        micro_global = tr.micro_batch_size * rt.world_size
        global_batch = micro_global * tr.grad_accum_steps
        order = _Order(len(train), tr.seed)
        n_eval = min(len(held), max(tr.eval_batches, 1) * tr.micro_batch_size)

        def to_device(b: SFTBatch) -> tuple[torch.Tensor, ...]:
            return tuple(torch.from_numpy(a).to(rt.device)
                         for a in (b.inputs, b.labels, b.weights, b.segments))

        def make(rows: PackedRows, idx: list[int]) -> SFTBatch:
            length = min(max(rows.row_length(i) for i in idx) - 1, mcfg.seq_length)
            return sft_batch(rows, idx, max(length, 1))

        def step_fn(ddp: torch.nn.Module, step: int) -> dict[str, float]:
            total, tokens, targets = 0.0, 0.0, 0.0
            for micro in range(tr.grad_accum_steps):
                first = step * global_batch + micro * micro_global + rt.rank * tr.micro_batch_size
                idx = [order.row(k) for k in range(first, first + tr.micro_batch_size)]
                x, y, w, seg = to_device(make(train, idx))
                loss, count = masked_loss(ddp, x, seg, y, w)
                (loss / tr.grad_accum_steps).backward()  # type: ignore[no-untyped-call]
                total += float(loss.detach())
                tokens += float((seg >= 0).sum())
                targets += float(count)
            return {"loss": total / tr.grad_accum_steps, "tokens": tokens,
                    "assistant_tokens": targets}

        @torch.no_grad()
        def eval_fn(m: torch.nn.Module) -> dict[str, float]:
            m.eval()
            num = den = 0.0
            for i in range(0, n_eval, tr.micro_batch_size):
                idx = list(range(i, min(i + tr.micro_batch_size, n_eval)))
                x, y, w, seg = to_device(make(held, idx))
                loss, count = masked_loss(m, x, seg, y, w)
                num += float(loss) * float(count)
                den += float(count)
            return {"loss": num / max(den, 1.0)}

        digest = resume_key({"stage": "sft", "data": cfg.data.path, "model": cfg.model.path,
                                "optimizer": attrs.asdict(cfg.optimizer), "seed": tr.seed,
                                "max_steps": tr.max_steps, "micro_batch_size": tr.micro_batch_size,
                                "grad_accum_steps": tr.grad_accum_steps})
        tokenizer = base.info.get("tokenizer")
        out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
        spec = LoopSpec("sft", out_dir, tr, cfg.optimizer, digest,
                        model_info(mcfg, stage="sft", tokenizer=tokenizer, data=cfg.data.path,
                                   base_model=str(base.path)), "loss")
        result = run_loop(rt, spec, model, step_fn, eval_fn, sink, stop_at_step=stop_at_step)
        result.metadata.update({"tokenizer": tokenizer, "base_model": str(base.path),
                                "loss_on": "assistant_tokens", "train_rows": len(train),
                                "global_batch_size": global_batch})
        return result
    finally:
        rt.close()
