"""GPU benchmark of the nano3 pretrain and SFT stages on Megatron-Core: a ~125M-parameter GPT
(GPT-2 small shape), 50 steps of each in bf16 on one CUDA device (SFT from the pretrain save, on
packed rows); prints tokens/s and model FLOPs utilisation (MFU) of each.

Run on a GPU machine: `python bench/train_megatron_gpu.py [--steps 50] [--peak-tflops T]`.
Without CUDA it refuses (exit 2). The first 5 steps are warm-up and not timed; every step ends
with a host read of the loss (the loop's `forward_backward`), so step boundaries are synchronized.
MFU counts the model's matmul FLOPs (forward x 3 for training, causal attention counted in
full, as Megatron-LM and nanoGPT do) against the GPU's dense bf16 peak.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from kit_artifacts import ModelArtifact, PretrainBlendsArtifact, SFTDataArtifact
from nano3.formats import BLEND_FILENAME, IndexedWriter, write_blend
from nano3.stages import ModelConfig, OptimizerConfig, PretrainConfig, SFTConfig, TrainerConfig
from nano3.stages._pretrain import run_pretrain
from nano3.stages._sft import run_sft

SHAPE = ModelConfig(vocab_size=50304, seq_length=1024, num_layers=12, hidden_size=768,
                   num_attention_heads=12, ffn_hidden_size=3072)
WARMUP = 5
# Dense bf16 peak TFLOP/s by device-name fragment (vendor datasheets, SXM parts).
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


class _Wall:
    def __init__(self) -> None:
        self.t: list[float] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if "train/loss" in metrics:
            self.t.append(time.perf_counter())


def flops_per_token(s: ModelConfig, head_share: float = 1.0) -> float:
    """Training FLOPs per token: 3 x forward (2 per multiply-add) over every matmul; the
    vocabulary head for `head_share` of the tokens (SFT computes it at assistant labels)."""
    h, f, n, v, layers = s.hidden_size, s.ffn_hidden_size, s.seq_length, s.vocab_size, (
        s.num_layers)
    per_layer = 2 * (4 * h * h + 2 * h * f) + 2 * 2 * n * h  # qkv+proj, mlp; scores + values
    return 3.0 * (layers * per_layer + head_share * 2 * h * v)


def params(s: ModelConfig) -> int:
    """Parameter count of the GPTModel (tied embeddings, learned positions, biases, norms)."""
    h, f = s.hidden_size, s.ffn_hidden_size
    layer = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h
    return s.num_layers * layer + s.vocab_size * h + s.seq_length * h + 2 * h


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="dense bf16 peak of the GPU (default: looked up by device name)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("train_megatron_gpu: needs a CUDA GPU (torch.cuda.is_available() is False); "
              "run bench/train_megatron.py for the CPU benchmark", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name()
    peak = args.peak_tflops or next((p for k, p in PEAKS.items() if k in name), 0.0)
    steps, mbs = max(args.steps, WARMUP + 2), args.micro_batch
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        lengths = rng.integers(500, 4000, 2 * steps * mbs * SHAPE.seq_length // 2000 + 10)
        with IndexedWriter(root / "shard_000000", np.uint16) as w:
            w.add_batch(rng.integers(0, 50257, int(lengths.sum())).astype(np.uint16), lengths)
        write_blend(root / BLEND_FILENAME, {"train": [(1.0, str(root / "shard_000000"))]})
        trainer = TrainerConfig(max_steps=steps, micro_batch_size=mbs, eval_batches=0,
                                checkpoint_every=steps, log_every=1, device="cuda")
        wall = _Wall()
        data = PretrainBlendsArtifact(path=tmp, total_tokens=0, total_sequences=0,
                                      blend_path=str(root / BLEND_FILENAME))
        pre = run_pretrain(PretrainConfig(
            data=data, output_dir=str(root / "pre"), model=SHAPE, trainer=trainer,
            optimizer=OptimizerConfig(lr=6e-4, min_lr=6e-5, warmup_steps=10)), wall)
        _report(name, "pretrain", wall, steps, mbs, peak, 1.0)
        wall = _Wall()
        sft_data = _packed_sft(root / "sft", rng, steps * mbs)
        run_sft(SFTConfig(data=sft_data, model=ModelArtifact(path=pre.checkpoint, step=steps),
                          output_dir=str(root / "sft"), trainer=trainer), wall)
        _report(name, "sft", wall, steps, mbs, peak, SFT_ASSISTANT_SHARE)
    return 0


# Share of a packed SFT row that is an assistant label (the rows `_packed_sft` writes): the
# vocabulary head runs only there, so SFT's model FLOPs count it for that share.
SFT_ASSISTANT_SHARE = 0.5


def _packed_sft(root: Path, rng: np.random.Generator, rows: int) -> SFTDataArtifact:
    """Packed Parquet rows of seq_length+1 random tokens, two conversations each, the second
    half of each an assistant answer (FORMATS.md section 5), and its blend.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True)
    n, half = SHAPE.seq_length + 1, (SHAPE.seq_length + 1) // 4
    ids = rng.integers(0, 50257, (rows, n)).tolist()
    mask = [([0] * half + [1] * half) * 2 + [1] * (n - 4 * half) for _ in range(rows)]
    pq.write_table(pa.table({"input_ids": pa.array(ids, pa.list_(pa.int32())),
                             "loss_mask": pa.array(mask, pa.list_(pa.uint8())),
                             "seq_start_id": pa.array([[0, 2 * half]] * rows,
                                                      pa.list_(pa.int32()))}),
                   root / "train.parquet")
    write_blend(root / BLEND_FILENAME, {"train": [(1.0, str(root / "train.parquet"))]})
    return SFTDataArtifact(path=str(root), total_tokens=0, total_sequences=0,
                           blend_path=str(root / BLEND_FILENAME))


def _report(name: str, stage: str, wall: _Wall, steps: int, mbs: int, peak: float,
            head_share: float) -> None:
    timed = steps - WARMUP
    tok_s = timed * mbs * SHAPE.seq_length / (wall.t[-1] - wall.t[WARMUP - 1])
    achieved = tok_s * flops_per_token(SHAPE, head_share) / 1e12
    mfu = f"{100 * achieved / peak:.1f}% of {peak:.0f}" if peak else "unknown peak (--peak-tflops)"
    print(f"{name} {stage}: GPT {params(SHAPE) / 1e6:.0f}M params, seq {SHAPE.seq_length}, "
          f"micro batch {mbs}, bf16, {timed} timed steps: {tok_s:,.0f} tokens/s, "
          f"{achieved:.1f} TFLOP/s, MFU {mfu} TFLOP/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
