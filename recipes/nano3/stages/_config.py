"""Typed configs of the nano3 training stages (pretrain, SFT, RL).

The same config drives every backend: `local` trains with PyTorch here, `megatron-bridge` and
`nemo-rl` translate it (see `_megatron_bridge.py`, `_nemo_rl.py`). Inputs are typed
artifacts (`data: PretrainBlendsArtifact`, `model: ModelArtifact`) written in the YAML as
`${art:NAME}`: kit-artifacts resolves, loads and records each as a used input once, so a
stage never reads `metadata.json` and lineage is never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit_artifacts import (
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from kit_config import WandbConfig
from nano3.stages.errors import StageConfigError

__all__ = [
    "BACKENDS",
    "GRPOConfig",
    "ModelConfig",
    "OptimizerConfig",
    "PretrainConfig",
    "RLConfig",
    "SFTConfig",
    "TrainerConfig",
    "default_output_dir",
    "validate_config",
]

BACKENDS: dict[str, tuple[str, ...]] = {
    "pretrain": ("local", "megatron-bridge"),
    "sft": ("local", "megatron-bridge"),
    "rl": ("local", "nemo-rl"),
}


@dataclass
class ModelConfig:
    """Shape of the decoder-only LM (GPT-style: pre-LayerNorm, learned positions, tied head)."""

    vocab_size: int = 50304
    seq_length: int = 1024
    num_layers: int = 12
    hidden_size: int = 768
    num_attention_heads: int = 12
    ffn_hidden_size: int = 3072
    dropout: float = 0.0
    init_std: float = 0.02


@dataclass
class OptimizerConfig:
    """AdamW with linear warmup then cosine decay to `min_lr`."""

    lr: float = 3e-4
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    clip_grad: float = 1.0
    warmup_steps: int = 0
    # Glob patterns over parameter names (`blocks.0.ln1.weight`, `ln_f.bias`, `tok.weight`);
    # parameters that match none stay frozen. ["*"]: train everything. Local backend only.
    trainable: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class TrainerConfig:
    """Loop settings shared by all stages; global batch = micro x accumulation x world size."""

    max_steps: int = 1000
    micro_batch_size: int = 8
    grad_accum_steps: int = 1
    seed: int = 1234
    log_every: int = 10
    eval_batches: int = 4
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    resume: bool = True
    device: str = "auto"
    num_threads: int = 0


@dataclass
class PretrainConfig:
    """Pretraining from bin/idx shards sampled by the blend weights of `data`."""

    data: PretrainBlendsArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-pretrain-model"
    backend: str = "local"
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    backend_options: dict[str, Any] = field(default_factory=dict)
    wandb: WandbConfig = field(default_factory=WandbConfig)  # W&B settings (seed's `wandb:`)


@dataclass
class SFTConfig:
    """Supervised fine-tuning on packed Parquet, loss on assistant tokens (the loss mask)."""

    data: SFTDataArtifact
    model: ModelArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-sft-model"
    backend: str = "local"
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(lr=1e-4, min_lr=1e-5, weight_decay=0.0)
    )
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    backend_options: dict[str, Any] = field(default_factory=dict)
    wandb: WandbConfig = field(default_factory=WandbConfig)  # W&B settings (seed's `wandb:`)


@dataclass
class GRPOConfig:
    """Group-relative policy optimisation: G samples per prompt, advantages within a group."""

    num_prompts_per_step: int = 8
    num_generations_per_prompt: int = 8
    max_new_tokens: int = 8
    temperature: float = 1.0
    kl_coef: float = 0.0
    # Divide each group's advantages by its reward std (GRPO). Off (Dr. GRPO): a lone lucky
    # success in a group of failures is not amplified to a full-size update.
    normalize_rewards: bool = True
    reward: str = "exact_match"
    prompt_template: str = "{prompt}"
    stop_strings: list[str] = field(default_factory=lambda: ["\n"])
    eval_prompts: int = 64
    eval_generations: int = 4


@dataclass
class RLConfig:
    """RL on the prompts of an RL manifest with a verifiable reward against their answers."""

    data: SplitJsonlDataArtifact
    model: ModelArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-rl-model"
    backend: str = "local"
    tokenizer: str | None = None
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(lr=1e-5, min_lr=1e-5, weight_decay=0.0)
    )
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    backend_options: dict[str, Any] = field(default_factory=dict)
    wandb: WandbConfig = field(default_factory=WandbConfig)  # W&B settings (seed's `wandb:`)


def default_output_dir(artifact_name: str) -> str:
    """`$NEMOTRON_HOME/models/<artifact_name>`: stable, so a rerun finds its checkpoints."""
    import kit_config

    return str(kit_config.home_dir("models") / artifact_name)


_REWARDS = ("exact_match", "prefix_match")
_DEVICES = ("auto", "cpu", "cuda")


def _positive(problems: list[tuple[str, str]], path: str, value: float) -> None:
    if value <= 0:
        problems.append((path, f"must be > 0, got {value}"))


def _check_model(m: ModelConfig, problems: list[tuple[str, str]]) -> None:
    for name in ("vocab_size", "seq_length", "num_layers", "hidden_size",
                 "num_attention_heads", "ffn_hidden_size"):
        _positive(problems, f"model.{name}", getattr(m, name))
    if m.num_attention_heads > 0 and m.hidden_size % m.num_attention_heads:
        problems.append(("model.hidden_size", f"{m.hidden_size} is not divisible by "
                         f"model.num_attention_heads={m.num_attention_heads}"))
    if not 0.0 <= m.dropout < 1.0:
        problems.append(("model.dropout", f"must be in [0, 1), got {m.dropout}"))


def _check_optimizer(o: OptimizerConfig, problems: list[tuple[str, str]]) -> None:
    _positive(problems, "optimizer.lr", o.lr)
    if o.min_lr < 0 or o.min_lr > o.lr:
        problems.append(("optimizer.min_lr", f"must be in [0, lr={o.lr}], got {o.min_lr}"))
    if o.weight_decay < 0:
        problems.append(("optimizer.weight_decay", f"must be >= 0, got {o.weight_decay}"))
    for name in ("beta1", "beta2"):
        if not 0.0 <= getattr(o, name) < 1.0:
            problems.append((f"optimizer.{name}", f"must be in [0, 1), got {getattr(o, name)}"))
    if o.clip_grad < 0:
        problems.append(("optimizer.clip_grad", f"must be >= 0 (0 = off), got {o.clip_grad}"))
    if o.warmup_steps < 0:
        problems.append(("optimizer.warmup_steps", f"must be >= 0, got {o.warmup_steps}"))
    if not o.trainable or any(not isinstance(p, str) or not p.strip() for p in o.trainable):
        problems.append(("optimizer.trainable", "must be a non-empty list of parameter-name "
                         f"patterns such as ['*'] or ['ln_f.*'], got {o.trainable!r}"))


def _check_trainer(t: TrainerConfig, problems: list[tuple[str, str]]) -> None:
    for name in ("max_steps", "micro_batch_size", "grad_accum_steps", "log_every",
                 "checkpoint_every", "keep_checkpoints"):
        _positive(problems, f"trainer.{name}", getattr(t, name))
    if t.eval_batches < 0:
        problems.append(("trainer.eval_batches", f"must be >= 0, got {t.eval_batches}"))
    if t.device not in _DEVICES:
        problems.append(("trainer.device", f"must be one of {', '.join(_DEVICES)}, "
                         f"got {t.device!r}"))
    if t.num_threads < 0:
        problems.append(("trainer.num_threads", f"must be >= 0 (0 = torch default), "
                         f"got {t.num_threads}"))


def _check_grpo(g: GRPOConfig, problems: list[tuple[str, str]]) -> None:
    for name in ("num_prompts_per_step", "max_new_tokens", "eval_prompts",
                 "eval_generations"):
        _positive(problems, f"grpo.{name}", getattr(g, name))
    if g.num_generations_per_prompt < 2:
        problems.append(("grpo.num_generations_per_prompt",
                         f"must be >= 2 (advantages are relative within a group), "
                         f"got {g.num_generations_per_prompt}"))
    _positive(problems, "grpo.temperature", g.temperature)
    if g.kl_coef < 0:
        problems.append(("grpo.kl_coef", f"must be >= 0, got {g.kl_coef}"))
    if g.reward not in _REWARDS:
        problems.append(("grpo.reward", f"must be one of {', '.join(_REWARDS)}, "
                         f"got {g.reward!r}"))
    if "{prompt}" not in g.prompt_template:
        problems.append(("grpo.prompt_template", "must contain the placeholder {prompt}"))


def validate_config(stage: str, cfg: PretrainConfig | SFTConfig | RLConfig) -> None:
    """Check every value of a stage config and raise one `StageConfigError` listing all."""
    problems: list[tuple[str, str]] = []
    backends = BACKENDS[stage]
    if cfg.backend not in backends:
        problems.append(("backend", f"must be one of {', '.join(backends)} for {stage}, "
                         f"got {cfg.backend!r}"))
    if not isinstance(cfg.artifact_name, str) or not cfg.artifact_name.strip():
        problems.append(("artifact_name", "must be a non-empty string"))
    if cfg.output_dir is not None and not cfg.output_dir.strip():
        problems.append(("output_dir", "must be a path, or null for "
                         "$NEMOTRON_HOME/models/<artifact_name>"))
    if isinstance(cfg, PretrainConfig):
        _check_model(cfg.model, problems)
    if isinstance(cfg, RLConfig):
        _check_grpo(cfg.grpo, problems)
    _check_optimizer(cfg.optimizer, problems)
    if cfg.backend != "local" and cfg.optimizer.trainable != ["*"]:
        problems.append(("optimizer.trainable", f"backend {cfg.backend} trains every "
                         "parameter; freezing by name is local-backend only (set it to ['*'])"))
    _check_trainer(cfg.trainer, problems)
    if problems:
        raise StageConfigError(stage, problems)
