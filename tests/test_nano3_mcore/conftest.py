"""Fixtures of the Megatron-Core backend tests: tiny pretrain data and training subprocesses.

The data is the recipe's own tiny corpus (recipes/nano3/corpus/pretrain.jsonl), byte-tokenized
and written with the recipe's own writers (`nano3.formats`: bin/idx and blend.json), so
Megatron-Core's `BlendedMegatronDatasetBuilder` reads exactly what data prep writes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nano3.formats import BLEND_FILENAME, IndexedWriter, write_blend

CORPUS = Path(__file__).resolve().parents[2] / "recipes/nano3/corpus/pretrain.jsonl"
EOD = 256
TINY_MODEL = {"vocab_size": 257, "seq_length": 32, "num_layers": 2, "hidden_size": 32,
              "num_attention_heads": 4, "ffn_hidden_size": 64}
# Every run subprocess gets this long; a healthy one takes 10-40 s on 2 busy cores.
RUN_TIMEOUT = 240


def _write(prefix: Path, texts: list[str]) -> str:
    docs = [np.frombuffer(t.encode(), np.uint8).astype(np.uint16) for t in texts]
    with IndexedWriter(prefix, np.uint16) as w:
        w.add_batch(np.concatenate([np.append(d, EOD) for d in docs]),
                    np.asarray([len(d) + 1 for d in docs]))
    return str(prefix)


def make_corpus_blend(root: Path) -> Path:
    """Two train shards (weights 0.7 / 0.3) and one valid shard; returns blend.json's path."""
    root.mkdir(parents=True, exist_ok=True)
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines()]
    train, valid = texts[:-400], texts[-400:]
    shards = [_write(root / f"shard_{i:06d}", train[i::2]) for i in range(2)]
    blend = root / BLEND_FILENAME
    write_blend(blend, {"train": [(0.7, shards[0]), (0.3, shards[1])],
                        "valid": [(1.0, _write(root / "valid_000000", valid))]})
    return blend


@pytest.fixture(scope="session")
def blend_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus blend, built once per session."""
    return make_corpus_blend(tmp_path_factory.mktemp("data"))


def run_spec(out: Path, blend: Path, **trainer: Any) -> dict[str, Any]:
    """A spec for `python -m nano3.mcore`: the tiny model, 20 steps, a save every 5."""
    t = {"max_steps": 20, "micro_batch_size": 8, "log_every": 1, "checkpoint_every": 5,
         "num_threads": 1, "eod_id": EOD, "eval_batches": 2, "keep_checkpoints": 5}
    t.update(trainer)
    return {"model": TINY_MODEL, "optim": {"lr": 5e-3, "min_lr": 5e-4, "warmup_steps": 2},
            "trainer": t, "blend_path": str(blend), "output_dir": str(out)}


def child_env() -> dict[str, str]:
    """The test's environment (PYTHONPATH carries the source roots), minus any rank variables
    and with one torch thread per process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                        "SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def start_run(spec: dict[str, Any], nproc: int = 1) -> subprocess.Popen[str]:
    """Start a training subprocess (torchrun with `nproc` > 1) for `spec`."""
    out = Path(spec["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "nano3.mcore", str(out / "spec.json")]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "nano3.mcore", str(out / "spec.json")]
    log = (out / "log.txt").open("a")
    return subprocess.Popen(cmd, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
                            text=True)


def train(spec: dict[str, Any], nproc: int = 1) -> dict[str, Any]:
    """Run to the end; returns result.json (the log is in the assertion message on failure)."""
    proc = start_run(spec, nproc)
    out = Path(spec["output_dir"])
    try:
        rc = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, (out / "log.txt").read_text()[-4000:]
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    return result


def step_losses(out: Path) -> dict[int, float]:
    """train/loss by step from metrics.jsonl; a step logged twice (killed, resumed) keeps the
    last value."""
    losses: dict[int, float] = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "train/loss" in row:
            losses[row["step"]] = row["train/loss"]
    return losses


@pytest.fixture(scope="session")
def straight_run(blend_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted 20-step run, the reference of the resume and data-parallel tests."""
    out = tmp_path_factory.mktemp("straight")
    train(run_spec(out, blend_path))
    return out


def make_sft_blend(root: Path, pack: int = 33) -> Path:
    """Packed SFT Parquet (FORMATS.md section 5) of byte-tokenized sums ('Q:3+4\\nA:' -> '7'),
    loss mask on the answers; train and valid files and their blend.json."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)

    def rows(n: int) -> Any:
        cols: dict[str, list[Any]] = {"input_ids": [], "loss_mask": [], "seq_start_id": []}
        for _ in range(n):
            ids: list[int] = []
            mask: list[int] = []
            starts: list[int] = []
            while True:
                a, b = rng.randint(0, 9), rng.randint(0, 9)
                q, ans = f"Q:{a}+{b}\nA:".encode(), f"{a + b}\n".encode()
                if len(ids) + len(q) + len(ans) + 1 > pack:
                    break
                starts.append(len(ids))
                ids += [*q, *ans, EOD]
                mask += [0] * len(q) + [1] * (len(ans) + 1)
            cols["input_ids"].append(ids)
            cols["loss_mask"].append(mask)
            cols["seq_start_id"].append(starts)
        return pa.table({"input_ids": pa.array(cols["input_ids"], pa.list_(pa.int32())),
                         "loss_mask": pa.array(cols["loss_mask"], pa.list_(pa.uint8())),
                         "seq_start_id": pa.array(cols["seq_start_id"], pa.list_(pa.int32()))})

    pq.write_table(rows(64), root / "train.parquet")
    pq.write_table(rows(16), root / "valid.parquet")
    blend = root / BLEND_FILENAME
    write_blend(blend, {"train": [(1.0, str(root / "train.parquet"))],
                        "valid": [(1.0, str(root / "valid.parquet"))]})
    return blend
