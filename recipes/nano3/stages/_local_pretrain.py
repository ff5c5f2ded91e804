"""Local PyTorch pretraining: next-token loss on blended bin/idx windows."""
from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from nano3.stages._checkpoint import model_info, resume_key
from nano3.stages._config import PretrainConfig, default_output_dir
from nano3.stages._data_paths import load_blend
from nano3.stages._loop import LoopSpec, run_loop
from nano3.stages._model import DecoderLM
from nano3.stages._pretrain_data import BlendedWindows
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages._runtime import setup_runtime
from nano3.stages.errors import DataFormatError

__all__ = ["run_pretrain"]


def _check_vocab(batch: np.ndarray, vocab: int, where: str) -> None:
    top = int(batch.max()) if batch.size else 0
    if top >= vocab:
        raise DataFormatError(where, f"token id {top} >= model.vocab_size={vocab}",
                              hint="set model.vocab_size to the tokenizer's vocabulary size")


def run_pretrain(cfg: PretrainConfig, sink: MetricsSink | None = None, *,
                 stop_at_step: int | None = None) -> StageResult:
    """Pretrain from `cfg.data`; returns the final checkpoint and its numbers."""
    sink = sink or PrintMetrics("[pretrain] ")
    rt = setup_runtime(cfg.trainer)
    try:
        blend_file, blend = load_blend(cfg.data)
        train_entries = blend["train"]
        if not train_entries:
            raise DataFormatError(str(blend_file), "the train split is empty")
        tr, seq = cfg.trainer, cfg.model.seq_length
        micro_global = tr.micro_batch_size * rt.world_size
        global_batch = micro_global * tr.grad_accum_steps
        train = BlendedWindows(train_entries, seq, tr.seed, tr.max_steps * global_batch,
                               where=str(blend_file))
        n_eval = max(tr.eval_batches, 1) * tr.micro_batch_size
        held_out = blend["valid"] or train_entries
        evals = BlendedWindows(held_out, seq, tr.seed + 1, n_eval, where=str(blend_file))
        eval_batch = torch.from_numpy(evals.batch(0, n_eval))
        _check_vocab(eval_batch.numpy(), cfg.model.vocab_size, str(blend_file))
        model = DecoderLM(cfg.model).to(rt.device)
        vocab = cfg.model.vocab_size

        def step_fn(ddp: torch.nn.Module, step: int) -> dict[str, float]:
            total = 0.0
            for micro in range(tr.grad_accum_steps):
                first = step * global_batch + micro * micro_global + rt.rank * tr.micro_batch_size
                arr = train.batch(first, tr.micro_batch_size)
                _check_vocab(arr, vocab, str(blend_file))
                batch = torch.from_numpy(arr).to(rt.device)
                logits = ddp(batch[:, :-1])
                loss = F.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
                (loss / tr.grad_accum_steps).backward()  # type: ignore[no-untyped-call]
                total += float(loss.detach())
            return {"loss": total / tr.grad_accum_steps,
                    "tokens": float(tr.grad_accum_steps * tr.micro_batch_size * seq)}

        @torch.no_grad()
        def eval_fn(m: torch.nn.Module) -> dict[str, float]:
            m.eval()
            losses = []
            for i in range(0, n_eval, tr.micro_batch_size):
                b = eval_batch[i:i + tr.micro_batch_size].to(rt.device)
                logits = m(b[:, :-1])
                losses.append(float(F.cross_entropy(logits.reshape(-1, vocab),
                                                    b[:, 1:].reshape(-1))))
            return {"loss": float(np.mean(losses))}

        tokenizer = cfg.data.tokenizer_uri
        digest = resume_key({"stage": "pretrain", "data": cfg.data.path,
                              "model": attrs.asdict(cfg.model),
                              "optimizer": attrs.asdict(cfg.optimizer),
                                "seed": tr.seed, "max_steps": tr.max_steps,
                                "micro_batch_size": tr.micro_batch_size,
                                "grad_accum_steps": tr.grad_accum_steps})
        out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
        spec = LoopSpec("pretrain", out_dir, tr, cfg.optimizer, digest,
                        model_info(cfg.model, stage="pretrain", tokenizer=tokenizer,
                                   data=cfg.data.path), "loss")
        result = run_loop(rt, spec, model, step_fn, eval_fn, sink, stop_at_step=stop_at_step)
        result.metadata.update({"seq_length": seq, "global_batch_size": global_batch,
                                "tokenizer": tokenizer,
                                "blend_weights": [round(float(w), 6) for w in train.weights]})
        return result
    finally:
        rt.close()
