"""Typed configs of the nano3 training stages (pretrain, SFT, RL), with their own checks.

The same config drives every backend: `megatron-core` trains here with Megatron-Core (on CPU
or GPU), `megatron-bridge` and `nemo-rl` translate it (`_megatron_bridge.py`, `_nemo_rl.py`).
Inputs are typed
artifacts (`data: PretrainBlendsArtifact`, `model: ModelArtifact`) written in the YAML as
`${art:NAME}`: kit-artifacts resolves, loads and records each as a used input once, so a
stage never reads `metadata.json` and lineage is never guessed. Each class's
`__kit_validate__` says what its types cannot (positive sizes, known backends, ...):
`kit_config.structure` calls it, so the CLI reports these problems before launch, together
with type problems.
"""
from __future__ import annotations

from typing import Any

import attrs

from kit_artifacts import (
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from kit_config import WandbConfig
from kit_config.errors import ConfigProblem

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
]

BACKENDS: dict[str, tuple[str, ...]] = {
    "pretrain": ("megatron-core", "megatron-bridge"),
    "sft": ("megatron-core", "megatron-bridge"),
    "rl": ("megatron-core", "nemo-rl"),
}

_REWARDS = ("exact_match", "prefix_match")
_DEVICES = ("auto", "cpu", "cuda")


def _positive(obj: Any, *names: str) -> list[ConfigProblem]:
    return [ConfigProblem(name, f"must be > 0, got {getattr(obj, name)}")
            for name in names if getattr(obj, name) <= 0]


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> list[ConfigProblem]:
    if value in allowed:
        return []
    return [ConfigProblem(name, f"must be one of {', '.join(allowed)}, got {value!r}")]


@attrs.frozen
class ModelConfig:
    """Shape of Megatron-Core's GPTModel (pre-LayerNorm, learned positions, tied head)."""

    vocab_size: int = 50304
    seq_length: int = 1024
    num_layers: int = 12
    hidden_size: int = 768
    num_attention_heads: int = 12
    ffn_hidden_size: int = 3072
    dropout: float = 0.0
    init_std: float = 0.02

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Sizes positive, heads divide the hidden size, dropout a probability."""
        out = _positive(self, "vocab_size", "seq_length", "num_layers", "hidden_size",
                        "num_attention_heads", "ffn_hidden_size")
        if self.num_attention_heads > 0 and self.hidden_size % self.num_attention_heads:
            out.append(ConfigProblem("hidden_size", f"{self.hidden_size} is not divisible by "
                                     f"model.num_attention_heads={self.num_attention_heads}"))
        if not 0.0 <= self.dropout < 1.0:
            out.append(ConfigProblem("dropout", f"must be in [0, 1), got {self.dropout}"))
        return out


@attrs.frozen
class OptimizerConfig:
    """AdamW with linear warmup then cosine decay to `min_lr`."""

    lr: float = 3e-4
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    clip_grad: float = 1.0
    warmup_steps: int = 0
    # Glob patterns over GPTModel parameter names (`embedding.word_embeddings.weight`,
    # `decoder.layers.0.self_attention.linear_qkv.weight`, `decoder.final_layernorm.bias`);
    # parameters that match none stay frozen. ["*"]: train everything. megatron-core only.
    trainable: list[str] = attrs.Factory(lambda: ["*"])

    def __kit_validate__(self) -> list[ConfigProblem]:
        """A positive lr, min_lr in [0, lr], betas in [0, 1), non-empty patterns."""
        out = _positive(self, "lr")
        if self.min_lr < 0 or self.min_lr > self.lr:
            out.append(ConfigProblem("min_lr", f"must be in [0, lr={self.lr}], got {self.min_lr}"))
        for name in ("weight_decay", "warmup_steps"):
            if getattr(self, name) < 0:
                out.append(ConfigProblem(name, f"must be >= 0, got {getattr(self, name)}"))
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                out.append(ConfigProblem(name, f"must be in [0, 1), got {getattr(self, name)}"))
        if self.clip_grad < 0:
            out.append(ConfigProblem("clip_grad", f"must be >= 0 (0 = off), got {self.clip_grad}"))
        if not self.trainable or any(not p.strip() for p in self.trainable):
            out.append(ConfigProblem("trainable", "must be a non-empty list of parameter-name "
                                     "patterns such as ['*'] or "
                                     "['decoder.final_layernorm.*'], "
                                     f"got {self.trainable!r}"))
        return out


@attrs.frozen
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

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Positive loop lengths, a known device, non-negative counts."""
        out = _positive(self, "max_steps", "micro_batch_size", "grad_accum_steps", "log_every",
                        "checkpoint_every", "keep_checkpoints")
        if self.eval_batches < 0:
            out.append(ConfigProblem("eval_batches", f"must be >= 0, got {self.eval_batches}"))
        out += _one_of("device", self.device, _DEVICES)
        if self.num_threads < 0:
            out.append(ConfigProblem("num_threads", "must be >= 0 (0 = torch default), "
                                     f"got {self.num_threads}"))
        return out


def _stage_problems(stage: str, cfg: PretrainConfig | SFTConfig | RLConfig
                    ) -> list[ConfigProblem]:
    """The checks every training stage shares: backend, output, frozen parameters (the
    typed inputs are checked by kit-artifacts' structure hook)."""
    out = _one_of("backend", cfg.backend, BACKENDS[stage])
    if not cfg.artifact_name.strip():
        out.append(ConfigProblem("artifact_name", "must be a non-empty string"))
    if cfg.output_dir is not None and not cfg.output_dir.strip():
        out.append(ConfigProblem("output_dir", "must be a path, or null for "
                                 "$NEMOTRON_HOME/models/<artifact_name>"))
    if cfg.backend != "megatron-core" and cfg.optimizer.trainable != ["*"]:
        out.append(ConfigProblem("optimizer.trainable", f"backend {cfg.backend} trains every "
                                 "parameter; freezing by name is megatron-core only "
                                 "(set it to ['*'])"))
    return out


@attrs.frozen
class PretrainConfig:
    """Pretraining from bin/idx shards sampled by the blend weights of `data`."""

    data: PretrainBlendsArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-pretrain-model"
    backend: str = "megatron-core"
    model: ModelConfig = attrs.Factory(ModelConfig)
    optimizer: OptimizerConfig = attrs.Factory(OptimizerConfig)
    trainer: TrainerConfig = attrs.Factory(TrainerConfig)
    backend_options: dict[str, Any] = attrs.Factory(dict)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """The shared stage checks (the nested configs check themselves)."""
        return _stage_problems("pretrain", self)


@attrs.frozen
class SFTConfig:
    """Supervised fine-tuning on packed Parquet, loss on assistant tokens (the loss mask)."""

    data: SFTDataArtifact
    model: ModelArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-sft-model"
    backend: str = "megatron-core"
    optimizer: OptimizerConfig = attrs.Factory(
        lambda: OptimizerConfig(lr=1e-4, min_lr=1e-5, weight_decay=0.0)
    )
    trainer: TrainerConfig = attrs.Factory(TrainerConfig)
    backend_options: dict[str, Any] = attrs.Factory(dict)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """The shared stage checks (the nested configs check themselves)."""
        return _stage_problems("sft", self)


@attrs.frozen
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
    stop_strings: list[str] = attrs.Factory(lambda: ["\n"])
    eval_prompts: int = 64
    eval_generations: int = 4

    def __kit_validate__(self) -> list[ConfigProblem]:
        """Positive counts, groups of at least 2, a known reward, a {prompt} placeholder."""
        out = _positive(self, "num_prompts_per_step", "max_new_tokens", "eval_prompts",
                        "eval_generations", "temperature")
        if self.num_generations_per_prompt < 2:
            out.append(ConfigProblem("num_generations_per_prompt",
                                     "must be >= 2 (advantages are relative within a group), "
                                     f"got {self.num_generations_per_prompt}"))
        if self.kl_coef < 0:
            out.append(ConfigProblem("kl_coef", f"must be >= 0, got {self.kl_coef}"))
        out += _one_of("reward", self.reward, _REWARDS)
        if "{prompt}" not in self.prompt_template:
            out.append(ConfigProblem("prompt_template", "must contain the placeholder {prompt}"))
        return out


@attrs.frozen
class RLConfig:
    """RL on the prompts of an RL manifest with a verifiable reward against their answers."""

    data: SplitJsonlDataArtifact
    model: ModelArtifact
    output_dir: str | None = None
    artifact_name: str = "nano3-rl-model"
    backend: str = "megatron-core"
    tokenizer: str | None = None
    grpo: GRPOConfig = attrs.Factory(GRPOConfig)
    optimizer: OptimizerConfig = attrs.Factory(
        lambda: OptimizerConfig(lr=1e-5, min_lr=1e-5, weight_decay=0.0)
    )
    trainer: TrainerConfig = attrs.Factory(TrainerConfig)
    backend_options: dict[str, Any] = attrs.Factory(dict)
    wandb: WandbConfig = attrs.Factory(WandbConfig)  # W&B settings (the seed's `wandb:`)

    def __kit_validate__(self) -> list[ConfigProblem]:
        """The shared stage checks (the nested configs check themselves)."""
        return _stage_problems("rl", self)


def default_output_dir(artifact_name: str) -> str:
    """`$NEMOTRON_HOME/models/<artifact_name>`: stable, so a rerun finds its checkpoints."""
    import kit_config

    return str(kit_config.home_dir("models") / artifact_name)
