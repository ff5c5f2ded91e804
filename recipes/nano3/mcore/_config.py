"""Plain typed settings of the Megatron-Core backend (independent of the stage config).

A stage maps its own config onto these three classes; their field names match the nano3 stage
config, so the mapping is `ModelShape(**asdict(cfg.model))` and the like.
"""
from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ModelShape", "OptimSettings", "TrainSettings", "from_dict", "to_dict"]


@attrs.frozen
class ModelShape:
    """Decoder-only GPT: pre-LayerNorm, learned positions, tied input/output embeddings."""

    vocab_size: int
    seq_length: int
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    ffn_hidden_size: int
    dropout: float = 0.0
    init_std: float = 0.02


@attrs.frozen
class OptimSettings:
    """AdamW, linear warmup then cosine decay to `min_lr` over the run's steps."""

    lr: float = 3e-4
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    clip_grad: float = 1.0
    warmup_steps: int = 0


@attrs.frozen
class TrainSettings:
    """Loop settings; global batch = micro x accumulation x data-parallel world size."""

    max_steps: int = 100
    micro_batch_size: int = 8
    grad_accum_steps: int = 1
    seed: int = 1234
    log_every: int = 10
    eval_batches: int = 4
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    resume: bool = True
    eod_id: int = 0
    num_threads: int = 0
    device: str = "auto"


def to_dict(obj: Any) -> dict[str, Any]:
    """JSON-ready fields of one of the settings classes."""
    return attrs.asdict(obj)


def from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    """The inverse of `to_dict` (unknown keys are a TypeError naming the key)."""
    return cls(**data)
