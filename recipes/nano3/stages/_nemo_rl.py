"""Backend `nemo-rl`: the RL stage config as a NeMo-RL GRPO master config.

Mapping (ours -> NeMo-RL's `examples/configs/grpo_math_1B.yaml` layout):

- grpo.num_prompts_per_step, num_generations_per_prompt -> `grpo.*` (same names);
  trainer.max_steps -> `grpo.max_num_steps`; trainer.seed -> `grpo.seed`.
- grpo.eval_prompts -> `grpo.max_val_samples` (`val_at_start: true`, `val_period` =
  trainer.checkpoint_every).
- group-relative advantages; grpo.normalize_rewards -> `grpo.normalize_rewards`,
  `use_leave_one_out_baseline: false`; grpo.kl_coef -> `loss_fn.reference_policy_kl_penalty`.
- grpo.{max_new_tokens, temperature, stop_strings} -> `policy.generation.*` (vLLM).
- model (a Hugging Face model directory) -> `policy.model_name` and
  `policy.tokenizer.name` (tokenizer, when set, overrides the latter).
- optimizer.{lr, weight_decay, beta1, beta2} -> `policy.optimizer.kwargs` (AdamW);
  optimizer.clip_grad -> `policy.max_grad_norm`. optimizer.trainable: NeMo-RL trains every
  parameter, so `RLConfig.__kit_validate__` refuses anything but `["*"]` for this backend.
- trainer.micro_batch_size -> `policy.train_micro_batch_size`;
  `policy.train_global_batch_size` = prompts x generations.
- data (RL manifest) -> `data.dataset_name: ResponseDataset`, `train_data_path`,
  `val_data_path`, `input_key: prompt`, `output_key: answer`.
- grpo.reward exact_match -> `env.math` (NeMo-RL's answer verifier).
- output_dir -> `checkpointing.checkpoint_dir`, `logger.log_dir`.

The launch runs NeMo-RL's `run_grpo_math.py` (`backend_options.entrypoint`, default
`$NEMO_RL_ROOT/examples/run_grpo_math.py`) with `--config` the translated YAML.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nano3.stages._config import RLConfig, default_output_dir
from nano3.stages._megatron_bridge import apply_dotted
from nano3.stages._result import StageResult
from nano3.stages.errors import BackendRunError, BackendUnavailableError, StageConfigError

__all__ = ["launch_nemo_rl", "to_nemo_rl"]


def _split(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value or "")


def to_nemo_rl(cfg: RLConfig) -> dict[str, Any]:
    """Translate an RL config to a NeMo-RL GRPO config dict."""
    g, tr, opt = cfg.grpo, cfg.trainer, cfg.optimizer
    manifest = Path(cfg.data)
    manifest = manifest / "manifest.json" if manifest.is_dir() else manifest
    splits: dict[str, Any] = json.loads(manifest.read_text()) if manifest.is_file() else {}
    out = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    tree: dict[str, Any] = {
        "grpo": {"num_prompts_per_step": g.num_prompts_per_step,
                 "num_generations_per_prompt": g.num_generations_per_prompt,
                 "max_num_steps": tr.max_steps, "max_rollout_turns": 1,
                 "normalize_rewards": g.normalize_rewards, "use_leave_one_out_baseline": False,
                 "val_period": tr.checkpoint_every, "val_at_start": True,
                 "max_val_samples": g.eval_prompts, "val_batch_size": g.eval_prompts,
                 "seed": tr.seed},
        "loss_fn": {"reference_policy_kl_penalty": g.kl_coef, "ratio_clip_min": 0.2,
                    "ratio_clip_max": 0.2, "use_on_policy_kl_approximation": False,
                    "use_importance_sampling_correction": False, "token_level_loss": True},
        "checkpointing": {"enabled": True, "checkpoint_dir": str(out / "checkpoints"),
                          "metric_name": "val_reward", "higher_is_better": True,
                          "keep_top_k": tr.keep_checkpoints, "save_period": tr.checkpoint_every},
        "policy": {
            "model_name": cfg.model,
            "tokenizer": {"name": cfg.tokenizer or cfg.model},
            "train_global_batch_size": g.num_prompts_per_step * g.num_generations_per_prompt,
            "train_micro_batch_size": tr.micro_batch_size,
            "max_total_sequence_length": int(cfg.backend_options.get(
                "max_total_sequence_length", 1024)),
            "max_grad_norm": opt.clip_grad,
            "optimizer": {"name": "torch.optim.AdamW",
                          "kwargs": {"lr": opt.lr, "weight_decay": opt.weight_decay,
                                     "betas": [opt.beta1, opt.beta2], "eps": 1e-8}},
            "generation": {"backend": "vllm", "max_new_tokens": g.max_new_tokens,
                           "temperature": g.temperature, "top_p": 1.0, "top_k": None,
                           "stop_strings": list(g.stop_strings)},
        },
        "data": {"dataset_name": "ResponseDataset", "train_data_path": _split(splits.get("train")),
                 "val_data_path": _split(splits.get("val")), "input_key": "prompt",
                 "output_key": "answer", "prompt_file": None, "system_prompt_file": None},
        "env": {"math": {"num_workers": 8}},
        "logger": {"log_dir": str(out / "logs"), "wandb_enabled": False,
                   "tensorboard_enabled": False},
        "cluster": {"gpus_per_node": int(cfg.backend_options.get("gpus_per_node", 1)),
                    "num_nodes": int(cfg.backend_options.get("num_nodes", 1))},
    }
    extra = {k: v for k, v in cfg.backend_options.items()
             if k not in ("max_total_sequence_length", "gpus_per_node", "num_nodes",
                          "entrypoint")}
    return apply_dotted(tree, extra)


def launch_nemo_rl(cfg: RLConfig) -> StageResult:
    """Translate, write `nemo_rl_config.json`, and run NeMo-RL's GRPO entry point."""
    if importlib.util.find_spec("nemo_rl") is None:
        raise BackendUnavailableError("nemo-rl", "nemo_rl")
    if (Path(cfg.model) / "model.pt").is_file():
        raise StageConfigError("rl", "model", f"{cfg.model} is a local-backend checkpoint; "
                                       "NeMo-RL needs a Hugging Face model directory")
    tree = to_nemo_rl(cfg)
    out = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    out.mkdir(parents=True, exist_ok=True)
    cfg_file = out / "nemo_rl_config.json"
    cfg_file.write_text(json.dumps(tree, indent=2))
    root = os.environ.get("NEMO_RL_ROOT", "/opt/nemo-rl")
    entry = str(cfg.backend_options.get("entrypoint") or Path(root) / "examples" /
                "run_grpo_math.py")
    code = subprocess.call([sys.executable, entry, "--config", str(cfg_file)])
    if code != 0:
        raise BackendRunError("nemo-rl", code, str(out / "logs"))
    return StageResult(str(out / "checkpoints"), cfg.trainer.max_steps, None, True,
                       {"stage": "rl", "backend": "nemo-rl"})
