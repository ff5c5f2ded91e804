"""Benchmark of the nano3 local training backend, against baselines in the same run.

1. SFT step: our loss (logits only at assistant positions) vs the usual full-vocabulary
   logits + masked mean, on the same packed batch and model (GPT-2 vocabulary).
2. Pretrain: tokens/s of `run_pretrain` (sampler, schedule, checkpoints, eval excluded)
   vs a bare PyTorch loop over the same model and batch shape: the loop's overhead.

Run: `python bench/train_local.py [--steps N] [--threads T]`; prints each ratio.
"""
from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kit_artifacts import PretrainBlendsArtifact
from nano3.stages._config import ModelConfig, OptimizerConfig, PretrainConfig, TrainerConfig
from nano3.stages._local_pretrain import run_pretrain
from nano3.stages._local_sft import masked_loss
from nano3.stages._model import DecoderLM
from nano3.stages._result import PrintMetrics

MODEL = ModelConfig(vocab_size=50304, seq_length=256, num_layers=2, hidden_size=64,
                    num_attention_heads=4, ffn_hidden_size=256)


def _timed(fn, steps: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def bench_sft(steps: int) -> None:
    """Selected-position loss vs full logits + masked mean."""
    torch.manual_seed(0)
    model = DecoderLM(MODEL)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b, t = 8, 255
    x = torch.randint(0, 50257, (b, t))
    y = torch.randint(0, 50257, (b, t))
    w = (torch.rand(b, t) < 0.15).float()  # ~15% assistant tokens, as in chat SFT
    seg = torch.zeros(b, t, dtype=torch.long)

    def ours() -> None:
        loss, _ = masked_loss(model, x, seg, y, w)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad()

    def baseline() -> None:
        logits = model(x, seg)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                             reduction="none")
        loss = (ce * w.reshape(-1)).sum() / w.sum()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad()

    with torch.no_grad():  # same value, up to float error
        full = model(x, seg)
        ref = (F.cross_entropy(full.reshape(-1, full.shape[-1]), y.reshape(-1),
                               reduction="none") * w.reshape(-1)).sum() / w.sum()
        mine, _ = masked_loss(model, x, seg, y, w)
        assert abs(float(ref) - float(mine)) < 1e-3, (float(ref), float(mine))
    base_s, ours_s = _timed(baseline, steps), _timed(ours, steps)
    tok = b * t
    print(f"sft step   baseline {tok / base_s:9.0f} tok/s   ours {tok / ours_s:9.0f} tok/s   "
          f"ratio {base_s / ours_s:.2f}x")


def _write_data(root: Path) -> Path:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50257, 300_000).astype(np.uint16)
    prefix = root / "shard_000000"
    prefix.with_suffix(".bin").write_bytes(tokens.tobytes())
    with open(root / "shard_000000.idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8, 1, 2))
        f.write(np.asarray([len(tokens)], np.int32).tobytes())
        f.write(np.asarray([0], np.int64).tobytes() + np.asarray([0, 1], np.int64).tobytes())
    (root / "blend.json").write_text(json.dumps({"train": ["1.0", str(prefix)],
                                                 "valid": None, "test": None}))
    return root


def bench_pretrain(steps: int) -> None:
    """Our pretrain loop vs a bare loop, same model and batch shape."""
    with tempfile.TemporaryDirectory() as tmp:
        data = _write_data(Path(tmp))
        blends = PretrainBlendsArtifact(path=str(data), total_tokens=300_000, total_sequences=1,
                                        blend_path=str(data / "blend.json"), tokenizer_uri="gpt2")
        cfg = PretrainConfig(data=blends, output_dir=str(Path(tmp) / "out"), model=MODEL,
                             optimizer=OptimizerConfig(lr=1e-3, min_lr=1e-4),
                             trainer=TrainerConfig(max_steps=steps, micro_batch_size=2,
                                                   eval_batches=1, checkpoint_every=steps,
                                                   log_every=steps))
        res = run_pretrain(cfg, PrintMetrics(quiet=True))
        ours = float(res.metadata["tokens_per_sec"])
    torch.manual_seed(0)
    model = DecoderLM(MODEL)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.randint(0, 50257, (2, 257))

    def step() -> None:
        loss = F.cross_entropy(model(batch[:, :-1]).reshape(-1, 50304), batch[:, 1:].reshape(-1))
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad()

    bare = 2 * 256 / _timed(step, steps)
    print(f"pretrain   bare loop {bare:9.0f} tok/s   ours {ours:9.0f} tok/s   "
          f"ratio {ours / bare:.2f}x (1.0 = no loop overhead)")


def main() -> None:
    """Parse the size, run both benchmarks."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, GPT-2 vocab head")
    bench_sft(args.steps)
    bench_pretrain(args.steps)


if __name__ == "__main__":
    main()
