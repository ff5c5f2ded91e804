"""Backend `megatron-bridge`: the stage config as a Megatron-Bridge `ConfigContainer`.

Mapping (ours -> Megatron-Bridge `ConfigContainer` sections):

- model.{num_layers, hidden_size, num_attention_heads, ffn_hidden_size, seq_length,
  vocab_size} -> `model.*` (GPTModelProvider, same names); model.dropout ->
  `model.hidden_dropout` and `attention_dropout`; model.init_std -> `init_method_std`;
  learned absolute positions, LayerNorm, tied embeddings.
- trainer.max_steps -> `train.train_iters` and `scheduler.lr_decay_iters`;
  trainer.micro_batch_size -> `train.micro_batch_size`; micro x accumulation x
  `backend_options.data_parallel_size` (default 1) -> `train.global_batch_size`.
- trainer.eval_batches -> `train.eval_iters`; trainer.checkpoint_every ->
  `checkpoint.save_interval` and `train.eval_interval`; trainer.log_every ->
  `logger.log_interval`; trainer.seed -> `rng.seed` and `dataset.random_seed`.
- optimizer.{lr, min_lr, weight_decay, beta1, beta2, clip_grad} -> `optimizer.{lr, min_lr,
  weight_decay, adam_beta1, adam_beta2, clip_grad}` (adam); optimizer.warmup_steps ->
  `scheduler.lr_warmup_iters` (cosine decay). optimizer.trainable: Megatron-Bridge trains
  every parameter, so the config check refuses anything but `["*"]` for this backend.
- pretrain data (PretrainBlendsArtifact) -> `dataset.per_split_data_args_path` = its
  `blend.json` (FORMATS.md 3).
- sft data (SFTDataArtifact) -> `dataset.packed_sequence_specs.packed_train_data_path` /
  `packed_val_data_path` (packed Parquet, FORMATS.md 5); sft model ->
  `checkpoint.pretrained_checkpoint`.
- output_dir -> `checkpoint.save` and `checkpoint.load` (resume), `output_dir/checkpoints`.

`backend_options` entries are merged last (dotted keys, e.g. `train.global_batch_size`).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from nano3.stages._config import ModelConfig, PretrainConfig, SFTConfig, default_output_dir
from nano3.stages._result import StageResult
from nano3.stages.errors import BackendUnavailableError

__all__ = ["apply_dotted", "launch_megatron_bridge", "to_megatron_bridge"]


def apply_dotted(tree: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Merge `{"a.b": v}` overrides into a nested dict (in place; returns it)."""
    for key, value in options.items():
        node = tree
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def _model_section(m: ModelConfig) -> dict[str, Any]:
    return {
        "num_layers": m.num_layers, "hidden_size": m.hidden_size,
        "num_attention_heads": m.num_attention_heads, "ffn_hidden_size": m.ffn_hidden_size,
        "seq_length": m.seq_length, "vocab_size": m.vocab_size,
        "hidden_dropout": m.dropout, "attention_dropout": m.dropout,
        "init_method_std": m.init_std, "position_embedding_type": "learned_absolute",
        "normalization": "LayerNorm", "share_embeddings_and_output_weights": True,
    }


def to_megatron_bridge(stage: str, cfg: PretrainConfig | SFTConfig,
                       model: ModelConfig | None = None) -> dict[str, Any]:
    """Translate a pretrain/SFT config to a Megatron-Bridge ConfigContainer dict."""
    tr, opt = cfg.trainer, cfg.optimizer
    dp = int(cfg.backend_options.get("data_parallel_size", 1))
    out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name)) / "checkpoints"
    shape = cfg.model if isinstance(cfg, PretrainConfig) else model
    tree: dict[str, Any] = {
        "train": {"train_iters": tr.max_steps, "micro_batch_size": tr.micro_batch_size,
                  "global_batch_size": tr.micro_batch_size * tr.grad_accum_steps * dp,
                  "eval_iters": tr.eval_batches, "eval_interval": tr.checkpoint_every},
        "optimizer": {"optimizer": "adam", "lr": opt.lr, "min_lr": opt.min_lr,
                      "weight_decay": opt.weight_decay, "adam_beta1": opt.beta1,
                      "adam_beta2": opt.beta2, "clip_grad": opt.clip_grad},
        "scheduler": {"lr_decay_style": "cosine", "lr_warmup_iters": opt.warmup_steps,
                      "lr_decay_iters": tr.max_steps},
        "checkpoint": {"save": str(out_dir), "load": str(out_dir),
                       "save_interval": tr.checkpoint_every},
        "logger": {"log_interval": tr.log_every},
        "rng": {"seed": tr.seed},
    }
    if shape is not None:
        tree["model"] = _model_section(shape)
    if isinstance(cfg, PretrainConfig):
        from nano3.stages._data_paths import find_blend_file

        seq = cfg.model.seq_length
        tree["dataset"] = {"per_split_data_args_path": str(find_blend_file(cfg.data)),
                           "sequence_length": seq, "random_seed": tr.seed}
    else:
        from nano3.stages._sft_data import find_sft_splits

        splits = find_sft_splits(cfg.data)
        sft_seq = shape.seq_length if shape is not None else None
        tree["dataset"] = {
            "seq_length": sft_seq, "random_seed": tr.seed,
            "packed_sequence_specs": {
                "packed_sequence_size": sft_seq,
                "packed_train_data_path": [str(p) for p in splits["train"]],
                "packed_val_data_path": [str(p) for p in splits["valid"]],
            },
        }
        tree["checkpoint"]["pretrained_checkpoint"] = cfg.model
    extra = {k: v for k, v in cfg.backend_options.items() if k != "data_parallel_size"}
    return apply_dotted(tree, extra)


def launch_megatron_bridge(stage: str, cfg: PretrainConfig | SFTConfig) -> StageResult:
    """Translate, write `megatron_bridge_config.json`, and train with Megatron-Bridge."""
    if importlib.util.find_spec("megatron") is None or \
            importlib.util.find_spec("megatron.bridge") is None:
        raise BackendUnavailableError("megatron-bridge", "megatron.bridge")
    tree = to_megatron_bridge(stage, cfg)
    out = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    out.mkdir(parents=True, exist_ok=True)
    (out / "megatron_bridge_config.json").write_text(json.dumps(tree, indent=2))
    from megatron.bridge.training.config import ConfigContainer
    from megatron.bridge.training.gpt_step import forward_step

    container = ConfigContainer.from_dict(tree)
    if stage == "pretrain":
        from megatron.bridge.training.pretrain import pretrain

        pretrain(container, forward_step)
    else:
        from megatron.bridge.training.finetune import finetune

        finetune(container, forward_step)
    return StageResult(str(out / "checkpoints"), cfg.trainer.max_steps, None, True,
                       {"stage": stage, "backend": "megatron-bridge"})
