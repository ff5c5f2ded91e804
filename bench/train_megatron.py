"""Benchmark of nano3's pretrain stage loop (Megatron-Core) against a bare Megatron-Core loop.

Same model (the tiny pretrain shape: GPT-2 vocabulary, 2 layers, hidden 64, seq 256), batch,
data (one bin/idx shard written with nano3.formats, read through BlendedMegatronDatasetBuilder)
and Megatron pieces (GPTModel local spec, DDP, get_megatron_optimizer, forward_backward_func);
the bare loop is what a Megatron-Core example does: DataLoader, fwd/bwd, optimizer.step.
Ours adds the sampler by step, LR schedule, metrics and the final checkpoint (not timed).

Run: `python bench/train_megatron.py [--steps N]` (CPU, one process); prints the ratio
ours / bare (target >= 0.95x), best round of each. Rates are tokens per CPU second of
the process (robust on a shared machine); setup, the first (warm-up) step and the checkpoint
are excluded from both.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kit_artifacts import PretrainBlendsArtifact
from nano3.formats import BLEND_FILENAME, IndexedWriter, write_blend
from nano3.stages import ModelConfig, OptimizerConfig, PretrainConfig, TrainerConfig
from nano3.stages._pretrain import run_pretrain

SHAPE = ModelConfig(vocab_size=50304, seq_length=256, num_layers=2, hidden_size=64,
                   num_attention_heads=4, ffn_hidden_size=256)
MBS = 2


class _Clock:
    """Records the process CPU time at each per-step metrics call of the stage."""

    def __init__(self) -> None:
        self.cpu: list[float] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if "train/loss" in metrics:
            self.cpu.append(time.process_time())


def write_data(root: Path) -> Path:
    """One shard of random GPT-2 token documents and its blend.json."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(100, 2000, 400)
    with IndexedWriter(root / "shard_000000", np.uint16) as w:
        w.add_batch(rng.integers(0, 50257, int(lengths.sum())).astype(np.uint16), lengths)
    write_blend(root / BLEND_FILENAME, {"train": [(1.0, str(root / "shard_000000"))]})
    return root / BLEND_FILENAME


def ours(blend: Path, out: Path, steps: int) -> float:
    """tokens per CPU second of the pretrain stage over steps 2..N (step 1 is warm-up, as in
    `bare`): the CPU time between the metrics calls after step 1 and after step N."""
    clock = _Clock()
    data = PretrainBlendsArtifact(path=str(blend.parent), total_tokens=0, total_sequences=0,
                                  blend_path=str(blend))
    run_pretrain(PretrainConfig(data=data, output_dir=str(out), model=SHAPE,
                                optimizer=OptimizerConfig(lr=1e-3, min_lr=1e-4, warmup_steps=2),
                                trainer=TrainerConfig(max_steps=steps, micro_batch_size=MBS,
                                                      eval_batches=0, checkpoint_every=steps,
                                                      log_every=1)), clock)
    return (steps - 1) * MBS * SHAPE.seq_length / (clock.cpu[-1] - clock.cpu[0])


def bare(blend: Path, cache: Path, steps: int) -> float:
    """tokens per CPU second of a bare Megatron-Core loop over the same model, batch, data."""
    from megatron.core import parallel_state
    from megatron.core.datasets.blended_megatron_dataset_builder import (
        BlendedMegatronDatasetBuilder,
    )
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.distributed import (
        DistributedDataParallel,
        DistributedDataParallelConfig,
        finalize_model_grads,
    )
    from megatron.core.models.gpt import GPTModel
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.pipeline_parallel import get_forward_backward_func
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed
    from megatron.core.transformer.transformer_config import TransformerConfig

    from nano3.stages._cpu_compat import apply_cpu_compat
    from nano3.stages._megatron import _Tokenizer  # GPTDataset's tokenizer needs: vocab, eod

    with apply_cpu_compat():
        torch.distributed.init_process_group("gloo", init_method="tcp://127.0.0.1:29533",
                                             rank=0, world_size=1)
        parallel_state.initialize_model_parallel(1, 1)
        model_parallel_cuda_manual_seed(1234)
        cfg = TransformerConfig(num_layers=SHAPE.num_layers, hidden_size=SHAPE.hidden_size,
                                num_attention_heads=SHAPE.num_attention_heads,
                                ffn_hidden_size=SHAPE.ffn_hidden_size, hidden_dropout=0.0,
                                attention_dropout=0.0, use_cpu_initialization=True,
                                gradient_accumulation_fusion=False, persist_layer_norm=False)
        model = GPTModel(config=cfg, transformer_layer_spec=get_gpt_layer_local_spec(),
                         vocab_size=SHAPE.vocab_size, max_sequence_length=SHAPE.seq_length,
                         share_embeddings_and_output_weights=True)
        ddp = DistributedDataParallel(cfg, DistributedDataParallelConfig(
            grad_reduce_in_fp32=True), model)
        cfg.finalize_model_grads_func = finalize_model_grads
        opt = get_megatron_optimizer(OptimizerConfig(optimizer="adam", lr=1e-3, clip_grad=1.0),
                                     [ddp])
        dcfg = GPTDatasetConfig(random_seed=1234, sequence_length=SHAPE.seq_length,
                                blend_per_split=[([str(blend.parent / "shard_000000")], None),
                                                 None, None],
                                tokenizer=_Tokenizer(SHAPE.vocab_size, 50256),
                                reset_position_ids=False, reset_attention_mask=False,
                                eod_mask_loss=False, create_attention_mask=False,
                                path_to_cache=str(cache))
        train_ds = BlendedMegatronDatasetBuilder(GPTDataset, [steps * MBS, 0, 0], lambda: True,
                                                 dcfg).build()[0]
        loader = iter(torch.utils.data.DataLoader(train_ds, batch_size=MBS))

        def fwd(it: Any, m: Any) -> Any:
            b = next(it)
            out = m(b["tokens"], b["position_ids"], None, labels=b["labels"])
            mask = b["loss_mask"].float().view(-1)
            return out, lambda o: ((o.float().view(-1) * mask).sum() / mask.sum(), {})

        t = 0.0
        for i in range(steps):
            if i == 1:  # step 1 is warm-up (first allocations), as in `ours`
                t = 0.0
            t0 = time.process_time()
            ddp.zero_grad_buffer()
            opt.zero_grad()
            get_forward_backward_func()(forward_step_func=fwd, data_iterator=loader,
                                        model=[ddp], num_microbatches=1,
                                        seq_length=SHAPE.seq_length, micro_batch_size=MBS)
            opt.step()
            t += time.process_time() - t0
        parallel_state.destroy_model_parallel()
        torch.distributed.destroy_process_group()
    return (steps - 1) * MBS * SHAPE.seq_length / t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mines, bases = [], []
    with tempfile.TemporaryDirectory() as tmp:
        blend = write_data(Path(tmp))
        # Alternate the two loops and keep each one's best round. Rates are per CPU second of
        # this process (one torch thread), so other processes on a shared machine disturb
        # them far less than wall time.
        for r in range(args.rounds):
            mines.append(ours(blend, Path(tmp) / f"out{r}", args.steps))
            bases.append(bare(blend, Path(tmp) / f"bare_cache{r}", args.steps))
    mine, base = max(mines), max(bases)
    print("rounds (ours, bare) tokens per CPU s: " + ", ".join(
        f"({m:.0f}, {b:.0f})" for m, b in zip(mines, bases, strict=True)))
    print(f"megatron-core pretrain ({args.steps} steps, {args.threads} thread(s), seq "
          f"{SHAPE.seq_length}, micro batch {MBS}): bare {base:8.0f} tok/cpu-s   ours {mine:8.0f} "
          f"tok/cpu-s   ratio {mine / base:.2f}x (target >= 0.95x)")


if __name__ == "__main__":
    main()
