"""Fixtures for the nano3 training stage tests: tiny inputs written in the data-prep formats.

bin/idx and blend.json come from `nano3.formats` (the writers data prep uses); packed SFT
Parquet and the RL manifest are written here per FORMATS.md. So the stages are tested without
waiting for data prep; tokens come from the byte tokenizer (vocab 257), small enough for a
model to learn in seconds on 2 CPU cores.
"""
from __future__ import annotations

import itertools
import json
import os
import pickle
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kit_artifacts import (
    Artifact,
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from nano3.formats import BLEND_FILENAME, IndexedWriter, write_blend

# The fields each input type requires; a test artifact fills them with zeros.
_REQUIRED: dict[type[Artifact], dict[str, Any]] = {
    PretrainBlendsArtifact: {"total_tokens": 0, "total_sequences": 0},
    SFTDataArtifact: {"total_tokens": 0, "total_sequences": 0},
    SplitJsonlDataArtifact: {"total_sequences": 0},
    ModelArtifact: {"step": 0},
}

BYTE_EOD = 256


@pytest.fixture(autouse=True)
def _nemotron_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point all kit state at a temp dir and keep torch to one thread per process."""
    monkeypatch.setenv("NEMOTRON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    yield


def typed(cls: type[Any], path: str | Path, *, write: bool = False, **fields: Any) -> Any:
    """A `cls` input artifact at `path` (what a stage config receives); `write`: its metadata."""
    art = cls(path=str(path), **{**_REQUIRED[cls], **fields})
    if write:
        art.write_metadata()
    return art


def load_typed(cls: type[Any], path: str | Path) -> Any:
    """Read the `cls` artifact a data folder's `metadata.json` describes (no lineage)."""
    return cls.load(path, emit=False)


def write_indexed(prefix: Path, docs: list[list[int]], dtype: Any = np.uint16) -> None:
    """Write one Megatron indexed dataset (FORMATS.md section 2): one sequence per document."""
    with IndexedWriter(prefix, dtype) as w:
        w.add_batch(np.asarray([t for d in docs for t in d]), np.asarray([len(d) for d in docs]))


def byte_docs(texts: list[str]) -> list[list[int]]:
    """Byte-tokenize texts, each ending with the end-of-document id."""
    return [[*t.encode(), BYTE_EOD] for t in texts]


def arithmetic_texts(n: int, seed: int) -> list[str]:
    """Simple sums such as '12+7=19', the kind of text the tiny corpora hold."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        out.append(f"{a}+{b}={a + b}")
    return out


def make_pretrain_data(root: Path, *, shards: int = 2, docs: int = 400,
                       weights: tuple[float, ...] = (0.7, 0.3)) -> Path:
    """A PretrainBlendsArtifact-shaped directory with `shards` shards and a flat blend."""
    root.mkdir(parents=True, exist_ok=True)
    prefixes = []
    for s in range(shards):
        prefix = root / f"shard_{s:06d}"
        write_indexed(prefix, byte_docs(arithmetic_texts(docs, seed=s)))
        prefixes.append(str(prefix))
    valid = root / "valid_000000"
    write_indexed(valid, byte_docs(arithmetic_texts(100, seed=99)))
    train = list(zip(weights, prefixes, strict=False))
    write_blend(root / BLEND_FILENAME, {"train": train, "valid": [(1.0, str(valid))]})
    typed(PretrainBlendsArtifact, root, write=True, tokenizer_uri="bytes",
          blend_path=str(root / BLEND_FILENAME))
    return root


def make_sft_data(root: Path, *, rows: int = 48, pack: int = 64) -> Path:
    """An SFTDataArtifact-shaped directory: packed Parquet with loss masks on the answers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)

    def conv() -> tuple[list[int], list[int]]:
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        q, ans = f"Q:{a}+{b}\nA:", f"{a + b}\n"
        return [*q.encode(), *ans.encode(), BYTE_EOD], [0] * len(q) + [1] * (len(ans) + 1)

    def split(n: int) -> Any:
        cols: dict[str, list[Any]] = {"input_ids": [], "loss_mask": [], "seq_start_id": []}
        for _ in range(n):
            ids: list[int] = []
            mask: list[int] = []
            starts: list[int] = []
            while True:
                i, m = conv()
                if len(ids) + len(i) > pack:
                    break
                starts.append(len(ids))
                ids += i
                mask += m
            cols["input_ids"].append(ids)
            cols["loss_mask"].append(mask)
            cols["seq_start_id"].append(starts)
        return pa.table({"input_ids": pa.array(cols["input_ids"], pa.list_(pa.int32())),
                         "loss_mask": pa.array(cols["loss_mask"], pa.list_(pa.uint8())),
                         "seq_start_id": pa.array(cols["seq_start_id"], pa.list_(pa.int32()))})

    pq.write_table(split(rows), root / "train.parquet")
    pq.write_table(split(8), root / "valid.parquet")
    write_blend(root / BLEND_FILENAME, {"train": [(1.0, str(root / "train.parquet"))],
                                        "valid": [(1.0, str(root / "valid.parquet"))]})
    typed(SFTDataArtifact, root, write=True, blend_path=str(root / BLEND_FILENAME),
          pack_size=pack)
    return root


def make_rl_data(root: Path, *, train: int = 200, val: int = 32) -> Path:
    """An RL data artifact of copy tasks ('7=' -> '7'); returns its manifest path."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)

    def write(name: str, n: int) -> str:
        p = root / name
        lines = []
        for _ in range(n):
            d = rng.randint(0, 9)
            lines.append(json.dumps({"prompt": f"Q:{d}+0\nA:", "answer": str(d)}))
        p.write_text("\n".join(lines) + "\n")
        return str(p)

    manifest = {"train": write("train.jsonl", train), "val": write("val.jsonl", val),
                "test": "", "mode": "split", "source_splits": {}, "run_hash": "test"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    typed(SplitJsonlDataArtifact, root / "manifest.json", write=True,
          train=manifest["train"], val=manifest["val"])
    return root / "manifest.json"


@pytest.fixture()
def pretrain_data(tmp_path: Path) -> Path:
    """A small two-shard pretrain data directory."""
    return make_pretrain_data(tmp_path / "pretrain-data")


@pytest.fixture()
def sft_data(tmp_path: Path) -> Path:
    """A small packed SFT data directory."""
    return make_sft_data(tmp_path / "sft-data")


@pytest.fixture()
def rl_manifest(tmp_path: Path) -> Path:
    """A small RL manifest of copy tasks."""
    return make_rl_data(tmp_path / "rl-data")


@pytest.fixture()
def subprocess_env() -> Callable[..., dict[str, str]]:
    """The inherited environment for stage subprocesses (Pants passes sources through it)."""
    def build(**extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(extra)
        return env
    return build


# Every training subprocess gets this long; a healthy one takes 10-40 s on 2 busy cores.
RUN_TIMEOUT = 300


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment (PYTHONPATH carries the source roots), minus any rank variables
    and with one torch thread per process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                        "SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID")}
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def run_losses(home: Path) -> dict[int, float]:
    """train/loss by step over every tracked run under `home` (oldest run first, so a step
    logged twice, by a killed run and by its resumption, keeps the later value)."""
    from kit_track import load_run

    losses: dict[int, float] = {}
    for run in sorted((home / "runs").iterdir()):
        for point in load_run(run.name).metrics():
            if point.step is not None and "train/loss" in point.metrics:
                losses[point.step] = float(point.metrics["train/loss"])
    return losses


class ChildError(Exception):
    """A kit error raised by a stage in `_stage_child`: its class name, message and key path."""

    def __init__(self, type_name: str, message: str, key_path: str | None) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.key_path = type_name, key_path


@dataclass
class Trained:
    """A stage run in a child process: its result and every metrics call of rank 0."""

    result: Any
    history: list[tuple[int | None, dict[str, float]]]

    def losses(self) -> dict[int, float]:
        """train/loss by step."""
        return {int(s): m["train/loss"] for s, m in self.history
                if s is not None and "train/loss" in m}


_jobs = itertools.count()


def train_in_child(stage: str, cfg: Any, *, stop_at_step: int | None = None,
                   tokenizer: str | None = None) -> Trained:
    """Run `nano3.stages._<stage>.run_<stage>(cfg)` in `python -m test_nano3_train._stage_child`
    (see its docstring for why); a kit error comes back as `ChildError`."""
    import subprocess
    import sys
    import tempfile

    job = Path(tempfile.mkdtemp(prefix="stage-job-")) / f"job-{next(_jobs)}.pkl"
    job.write_bytes(pickle.dumps({"stage": stage, "cfg": cfg, "stop_at_step": stop_at_step,
                                  "tokenizer": tokenizer}))
    proc = subprocess.run([sys.executable, "-m", "test_nano3_train._stage_child", str(job)],
                          env=child_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        out = pickle.loads(job.with_suffix(".out.pkl").read_bytes())
    finally:
        shutil.rmtree(job.parent, ignore_errors=True)
    if "error" in out:
        raise ChildError(*out["error"])
    return Trained(out["result"], out["history"])
