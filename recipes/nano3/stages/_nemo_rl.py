"""Backend `nemo-rl`: the RL stage as a NeMo-RL GRPO config, run by NeMo-RL's `run_grpo.py`.

NeMo-RL is not installed here: the backend writes `nemo_rl_grpo.yaml` into `output_dir` and
fails with `BackendUnavailableError` saying what to run on a cluster where it is. The YAML
inherits NeMo-RL's own example (`defaults:` `<nemo_rl_root>/examples/configs/grpo_math_1B.yaml`,
`backend_options.nemo_rl_root`, default `/opt/nemo-rl`) and sets only what we map; every
key path must be one of that example's (`config/backends/nemo_rl_grpo_keys.json`, with its
source commit), else `StageConfigError` names it.

Mapping (ours -> NeMo-RL):

- grpo.num_prompts_per_step, num_generations_per_prompt, normalize_rewards -> `grpo.*`;
  trainer.max_steps -> `grpo.max_num_steps`; trainer.seed -> `grpo.seed`; grpo.eval_prompts
  -> `grpo.max_val_samples`, `val_batch_size` (`val_at_start`, `val_period` =
  trainer.checkpoint_every); `use_leave_one_out_baseline: false` (group mean, as ours).
- grpo.kl_coef -> `loss_fn.reference_policy_kl_penalty`.
- grpo.{max_new_tokens, temperature, stop_strings} -> `policy.generation.*` (vLLM).
- model (a Hugging Face model directory) -> `policy.model_name`; tokenizer (else model) ->
  `policy.tokenizer.name`.
- optimizer.{lr, weight_decay, beta1, beta2} -> `policy.optimizer.kwargs` (AdamW);
  clip_grad -> `policy.max_grad_norm`; NeMo-RL's example warmup schedule is kept.
  optimizer.trainable: NeMo-RL trains every parameter, so `RLConfig.__kit_validate__`
  refuses anything but `["*"]` for this backend.
- trainer.micro_batch_size -> `policy.train_micro_batch_size`;
  `policy.train_global_batch_size` = prompts x generations (one optimizer step per batch).
- data (RL manifest, FORMATS.md 4) -> `data` (replacing the example's), `train` (one entry
  per shard), `validation.data_path` (val, else test), `default` = ResponseDataset with
  `input_key: prompt`, `output_key: answer`, the math verifier environment (our exact_match).
- output_dir -> `checkpointing.checkpoint_dir` (keep_top_k = trainer.keep_checkpoints),
  `logger.log_dir`.

`backend_options` (dotted NeMo-RL keys, e.g. `cluster.num_nodes: 2`) are merged last.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from nano3.stages._config import default_output_dir
from nano3.stages._external import apply_dotted, dump_yaml, key_paths, snapshot
from nano3.stages._result import StageResult
from nano3.stages.errors import BackendRunError, BackendUnavailableError, StageConfigError

__all__ = ["CONFIG_NAME", "check_nemo_rl_keys", "launch_nemo_rl", "render_nemo_rl",
           "to_nemo_rl"]

CONFIG_NAME = "nemo_rl_grpo.yaml"
_DEFAULT_ROOT = "/opt/nemo-rl"


def _shards(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v]


def to_nemo_rl(cfg: Any) -> dict[str, Any]:
    """Translate an RL config to the NeMo-RL GRPO YAML tree."""
    g, tr, opt = cfg.grpo, cfg.trainer, cfg.optimizer
    options = dict(cfg.backend_options)
    root = str(options.pop("nemo_rl_root", _DEFAULT_ROOT))
    splits = {"train": cfg.data.train, "val": cfg.data.val, "test": cfg.data.test}
    val = _shards(splits.get("val")) or _shards(splits.get("test"))
    out = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    model = cfg.model.path
    tree: dict[str, Any] = {
        "defaults": f"{root}/examples/configs/grpo_math_1B.yaml",
        "grpo": {"num_prompts_per_step": g.num_prompts_per_step,
                 "num_generations_per_prompt": g.num_generations_per_prompt,
                 "max_num_steps": tr.max_steps, "normalize_rewards": g.normalize_rewards,
                 "use_leave_one_out_baseline": False, "val_period": tr.checkpoint_every,
                 "val_at_start": True, "max_val_samples": g.eval_prompts,
                 "val_batch_size": g.eval_prompts, "seed": tr.seed},
        "loss_fn": {"reference_policy_kl_penalty": g.kl_coef},
        "checkpointing": {"enabled": True, "checkpoint_dir": str(out / "checkpoints"),
                          "keep_top_k": tr.keep_checkpoints, "save_period": tr.checkpoint_every},
        "policy": {
            "model_name": model, "tokenizer": {"name": cfg.tokenizer or model},
            "train_global_batch_size": g.num_prompts_per_step * g.num_generations_per_prompt,
            "train_micro_batch_size": tr.micro_batch_size, "max_grad_norm": opt.clip_grad,
            "optimizer": {"name": "torch.optim.AdamW",
                          "kwargs": {"lr": opt.lr, "weight_decay": opt.weight_decay,
                                     "betas": [opt.beta1, opt.beta2]}},
            "generation": {"backend": "vllm", "max_new_tokens": g.max_new_tokens,
                           "temperature": g.temperature, "stop_strings": list(g.stop_strings)},
        },
        # `_override_` (NeMo-RL's load_config) replaces the example's data section whole:
        # merged, its OpenMathInstruct-2 `train.dataset_name` would win over ours.
        "data": {"_override_": True, "shuffle": True, "num_workers": 1,
                 "max_input_seq_length": "${policy.max_total_sequence_length}",
                 "train": [{"data_path": p} for p in _shards(splits.get("train"))],
                 "validation": {"data_path": val[0]} if val else None,
                 "default": {"dataset_name": "ResponseDataset", "input_key": "prompt",
                             "output_key": "answer", "prompt_file": None,
                             "system_prompt_file": None,
                             "processor": "math_hf_data_processor", "env_name": "math"}},
        "logger": {"log_dir": str(out / "logs")},
    }
    return apply_dotted(tree, options)


def check_nemo_rl_keys(tree: dict[str, Any]) -> None:
    """Raise `StageConfigError` naming every key path NeMo-RL's example config lacks."""
    known = set(snapshot("nemo_rl_grpo_keys")["key_paths"]) | {"defaults"}
    # `defaults` and a section's `_override_` are load_config's, not the example's keys.
    unknown = sorted(p for p in set(key_paths(tree)) - known
                     if not p.endswith("._override_"))
    if unknown:
        src = snapshot("nemo_rl_grpo_keys")["source"]
        also = f" (also unknown: {', '.join(unknown[1:])})" if unknown[1:] else ""
        raise StageConfigError("rl", unknown[0], f"not a key of NeMo-RL's grpo_math_1B.yaml "
                                                 f"({src}); check its spelling{also}")


def render_nemo_rl(cfg: Any) -> str:
    """The NeMo-RL GRPO YAML text (checked against the snapshot)."""
    tree = to_nemo_rl(cfg)
    check_nemo_rl_keys(tree)
    return dump_yaml(tree)


def launch_nemo_rl(cfg: Any) -> StageResult:
    """Write the GRPO YAML into output_dir; run NeMo-RL's `run_grpo.py` where it imports."""
    model = Path(cfg.model.path)
    if (model / "latest_checkpointed_iteration.txt").is_file() or model.name.startswith("iter_"):
        raise StageConfigError("rl", "model", f"{cfg.model.path} is a Megatron-Core "
                               "checkpoint; NeMo-RL's GRPO example loads a Hugging Face model "
                               "directory (convert it with Megatron-Bridge's AutoBridge first)")
    text = render_nemo_rl(cfg)
    out = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    out.mkdir(parents=True, exist_ok=True)
    config = out / CONFIG_NAME
    config.write_text(text)
    root = str(cfg.backend_options.get("nemo_rl_root", _DEFAULT_ROOT))
    if importlib.util.find_spec("nemo_rl") is None:
        raise BackendUnavailableError(
            "nemo-rl", "nemo_rl",
            hint=f"wrote {config}; on a cluster with NeMo-RL installed run `cd {root} && "
                 f"uv run python examples/run_grpo.py --config {config}`, or use "
                 "backend=megatron-core")
    code = subprocess.call([sys.executable, f"{root}/examples/run_grpo.py", "--config",
                            str(config)])
    if code != 0:
        raise BackendRunError("nemo-rl", code, str(out / "logs"))
    return StageResult(str(out / "checkpoints"), cfg.trainer.max_steps, None, True,
                       {"stage": "rl", "backend": "nemo-rl"})
