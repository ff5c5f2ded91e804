"""Typed configs of the three data prep stages, each with its semantic checks.

Types are checked by `kit_config.structure`, which also calls each class's
`__kit_validate__` for what types cannot say (positive weights, known split names, ...):
every problem is reported at once with its key path, before launch.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

import kit_config
from kit_config import WandbConfig
from kit_config.errors import ConfigProblem
from nano3.formats import TokenizerSpec

__all__ = [
    "ChatTemplate",
    "DataConfig",
    "DatasetSpec",
    "ErrorPolicy",
    "ParallelSpec",
    "PretrainDataConfig",
    "RLDataConfig",
    "SFTDataConfig",
    "SPLITS",
    "SampleSpec",
    "output_root",
    "parse_split",
]

#: The split names of pretrain blends (Megatron's names); RL/SFT map "valid" to their own.
SPLITS: tuple[str, str, str] = ("train", "valid", "test")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MiB = 1 << 20


@attrs.define(frozen=True)
class DatasetSpec:
    """One input dataset of a blend: where it is, its weight, split and text field."""

    name: str
    path: str
    weight: float = 1.0
    #: "train" | "valid" | "test" (the whole dataset) or ratios "98,1,1" (per document).
    split: str = "98,1,1"
    text_field: str = "text"
    #: "auto" (from the extension), "jsonl" or "parquet".
    format: str = "auto"
    subset: str | None = None


@attrs.define(frozen=True)
class ErrorPolicy:
    """What to do with a malformed record: fail at once (with file and line) or skip and count."""

    policy: Literal["fail", "skip"] = "fail"


@attrs.define(frozen=True)
class SampleSpec:
    """A deterministic document sample; a sampled run publishes under a distinct name."""

    fraction: float | None = None


@attrs.define(frozen=True)
class ParallelSpec:
    """Processes on this machine, and this task's rank among tasks (None: from the env)."""

    num_workers: int = 1
    rank: int | None = None
    world_size: int | None = None
    merge_timeout_s: float = 3600.0
    progress: bool = True


@attrs.define(frozen=True)
class ChatTemplate:
    """How chat turns become text; assistant content and `turn_end` carry the loss."""

    turn_start: str = "<|im_start|>{role}\n"
    turn_end: str = "<|im_end|>\n"


@attrs.define(frozen=True)
class PretrainDataConfig:
    """Pretrain data prep: text datasets to Megatron bin/idx shards and a per-split blend."""

    artifact_name: str
    blend: list[DatasetSpec]
    #: None: $NEMOTRON_HOME/data (default ~/.nemotron/data).
    output_dir: str | None = None
    tokenizer: TokenizerSpec = attrs.Factory(TokenizerSpec)
    append_eod: bool = True
    shard_bytes: int = 256 * _MiB
    batch_docs: int = 1024
    seed: int = 1234
    sample: SampleSpec = attrs.Factory(SampleSpec)
    errors: ErrorPolicy = attrs.Factory(ErrorPolicy)
    parallel: ParallelSpec = attrs.Factory(ParallelSpec)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Names, blend, sizes, sampling, parallelism (see `_data_problems`)."""
        return _data_problems(self)


@attrs.define(frozen=True)
class SFTDataConfig:
    """SFT data prep: chat JSONL to loss-masked, packed Parquet."""

    artifact_name: str
    blend: list[DatasetSpec]
    #: None: $NEMOTRON_HOME/data (default ~/.nemotron/data).
    output_dir: str | None = None
    tokenizer: TokenizerSpec = attrs.Factory(TokenizerSpec)
    template: ChatTemplate = attrs.Factory(ChatTemplate)
    pack_size: int = 2048
    overlong: Literal["truncate", "drop"] = "truncate"
    shard_bytes: int = 64 * _MiB
    batch_docs: int = 512
    seed: int = 1234
    sample: SampleSpec = attrs.Factory(SampleSpec)
    errors: ErrorPolicy = attrs.Factory(ErrorPolicy)
    parallel: ParallelSpec = attrs.Factory(ParallelSpec)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Names, blend, sizes, sampling, parallelism (see `_data_problems`)."""
        return _data_problems(self)


@attrs.define(frozen=True)
class RLDataConfig:
    """RL data prep: prompt/answer JSONL to per-split JSONL and a manifest."""

    artifact_name: str
    blend: list[DatasetSpec]
    #: None: $NEMOTRON_HOME/data (default ~/.nemotron/data).
    output_dir: str | None = None
    prompt_field: str = "prompt"
    answer_field: str = "answer"
    shard_bytes: int = 64 * _MiB
    batch_docs: int = 4096
    seed: int = 1234
    sample: SampleSpec = attrs.Factory(SampleSpec)
    errors: ErrorPolicy = attrs.Factory(ErrorPolicy)
    parallel: ParallelSpec = attrs.Factory(ParallelSpec)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Names, blend, sizes, sampling, parallelism (see `_data_problems`)."""
        return _data_problems(self)


DataConfig = PretrainDataConfig | SFTDataConfig | RLDataConfig


def output_root(cfg: DataConfig) -> Path:
    """Where outputs go: `output_dir`, else `$NEMOTRON_HOME/data` (default ~/.nemotron)."""
    if cfg.output_dir:
        return Path(cfg.output_dir).expanduser().resolve()
    return kit_config.home_dir("data").resolve()


def parse_split(split: str) -> tuple[float, float, float]:
    """Split spec -> fractions (train, valid, test); raises ValueError saying what is wrong."""
    text = split.strip()
    if text in SPLITS:
        return tuple(1.0 if s == text else 0.0 for s in SPLITS)  # type: ignore[return-value]
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(f"split {split!r} is not train/valid/test or three ratios like '98,1,1'")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"split {split!r} has a ratio that is not a number") from None
    if any(not math.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
        raise ValueError(f"split {split!r} needs finite ratios >= 0 with a positive sum")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def _check_positive(problems: list[ConfigProblem], path: str, value: Any, *, integer: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value > 0 and (not integer or int(value) == value)
    if not ok:
        kind = "integer" if integer else "number"
        problems.append(ConfigProblem(path, f"must be a positive {kind}, got {value!r}"))


def _validate_blend(problems: list[ConfigProblem], blend: Sequence[DatasetSpec]) -> None:
    if not blend:
        problems.append(ConfigProblem("blend", "needs at least one dataset"))
    seen: set[str] = set()
    for i, ds in enumerate(blend):
        where = f"blend[{i}]"
        if not _NAME_RE.match(ds.name):
            problems.append(ConfigProblem(f"{where}.name", f"{ds.name!r} is not [A-Za-z0-9._-]+"))
        elif ds.name in seen:
            problems.append(ConfigProblem(f"{where}.name", f"duplicate dataset name {ds.name!r}"))
        seen.add(ds.name)
        if not ds.path:
            problems.append(ConfigProblem(f"{where}.path", "is empty"))
        _check_positive(problems, f"{where}.weight", ds.weight, integer=False)
        try:
            parse_split(ds.split)
        except ValueError as exc:
            problems.append(ConfigProblem(f"{where}.split", str(exc)))
        if ds.format not in ("auto", "jsonl", "parquet"):
            problems.append(ConfigProblem(f"{where}.format", "must be auto, jsonl or parquet"))
        if not ds.text_field:
            problems.append(ConfigProblem(f"{where}.text_field", "is empty"))


def _data_problems(cfg: DataConfig) -> list[ConfigProblem]:
    """What types cannot check, for any data prep config: every problem with its key path."""
    problems: list[ConfigProblem] = []
    if not _NAME_RE.match(cfg.artifact_name):
        problems.append(ConfigProblem("artifact_name",
                                      f"{cfg.artifact_name!r} is not an artifact name"))
    if cfg.output_dir is not None and not cfg.output_dir:
        problems.append(ConfigProblem("output_dir", "is empty"))
    _validate_blend(problems, cfg.blend)
    _check_positive(problems, "shard_bytes", cfg.shard_bytes, integer=True)
    _check_positive(problems, "batch_docs", cfg.batch_docs, integer=True)
    _check_positive(problems, "parallel.num_workers", cfg.parallel.num_workers, integer=True)
    _check_positive(problems, "parallel.merge_timeout_s", cfg.parallel.merge_timeout_s,
                    integer=False)
    if cfg.parallel.world_size is not None:
        _check_positive(problems, "parallel.world_size", cfg.parallel.world_size, integer=True)
    if cfg.parallel.rank is not None and not (
        0 <= cfg.parallel.rank < (cfg.parallel.world_size or 1)
    ):
        problems.append(ConfigProblem("parallel.rank", "must be in [0, world_size)"))
    if cfg.errors.policy not in ("fail", "skip"):
        problems.append(ConfigProblem("errors.policy", f"{cfg.errors.policy!r} is not fail|skip"))
    frac = cfg.sample.fraction
    if frac is not None and not (isinstance(frac, int | float) and 0 < frac <= 1):
        problems.append(ConfigProblem("sample.fraction", f"must be in (0, 1], got {frac!r}"))
    if isinstance(cfg, PretrainDataConfig | SFTDataConfig):
        if cfg.tokenizer.backend not in ("tiktoken", "hf"):
            problems.append(ConfigProblem("tokenizer.backend", "must be tiktoken or hf"))
        if not cfg.tokenizer.source:
            problems.append(ConfigProblem("tokenizer.source", "is empty"))
    if isinstance(cfg, SFTDataConfig):
        _check_positive(problems, "pack_size", cfg.pack_size, integer=True)
        if cfg.overlong not in ("truncate", "drop"):
            problems.append(ConfigProblem("overlong", "must be truncate or drop"))
        if "{role}" not in cfg.template.turn_start:
            problems.append(ConfigProblem("template.turn_start", "must contain {role}"))
    return problems
