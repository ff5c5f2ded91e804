"""Backend `megatron-bridge`: what a Megatron-Bridge container runs for pretrain and SFT.

Megatron-Bridge cannot run here (Python 3.12 only, imports Transformer Engine, asserts CUDA),
so the backend writes two files into `output_dir` and runs them only where Bridge imports:

- `megatron_bridge.yaml`: our settings, keyed by `ConfigContainer` section and field.
- `megatron_bridge_entry.py`: builds Bridge's named recipe `vanilla_gpt_pretrain_config`
  (GPT, LayerNorm, GeLU, learned positions; builds offline), applies the YAML (and any
  `KEY=VALUE` arguments, Hydra grammar) with Bridge's `process_config_with_overrides`, then
  calls `pretrain` or `finetune` with `gpt_step.forward_step`. Run it in the container as
  `torchrun --nproc-per-node=N megatron_bridge_entry.py [overrides]`.

Every key of the YAML must be a field of the Bridge 0.6.2 dataclass of its section
(`config/backends/megatron_bridge_fields.json`), else `StageConfigError` names it.

Mapping (ours -> Bridge):

- model.{num_layers, hidden_size, num_attention_heads, ffn_hidden_size, seq_length,
  vocab_size} -> `model.*`; dropout -> `hidden_dropout`, `attention_dropout`; init_std ->
  `init_method_std`; tied embeddings. SFT copies `model` and `tokenizer` from the pretrain
  run's YAML beside its checkpoints, which become `checkpoint.pretrained_checkpoint`.
- trainer.max_steps -> `train.train_iters`, `scheduler.lr_decay_iters`; micro_batch_size ->
  `train.micro_batch_size`; micro x grad_accum_steps x `backend_options.data_parallel_size`
  (default 1) -> `train.global_batch_size`; eval_batches -> `validation.eval_iters`;
  checkpoint_every -> `validation.eval_interval`, `checkpoint.save_interval`; keep_checkpoints
  -> `checkpoint.most_recent_k`; log_every -> `logger.log_interval`; seed -> `rng.seed`.
- optimizer.{lr, min_lr, weight_decay, beta1, beta2, clip_grad} -> `optimizer.{lr, min_lr,
  weight_decay, adam_beta1, adam_beta2, clip_grad}`; warmup_steps ->
  `scheduler.lr_warmup_iters` (cosine decay).
- pretrain data (blend.json, FORMATS.md 3) -> `dataset.blend_per_split` (train, valid, test;
  `split: null`), tokens read as-is (`tokenizer.tokenizer_type: NullTokenizer`).
- SFT data (packed Parquet, FORMATS.md 5: the columns Bridge's packer writes) ->
  `dataset.offline_packing_specs.packed_{train,val}_data_path`.
- output_dir/checkpoints -> `checkpoint.save` and `checkpoint.load` (resume).

`backend_options` (dotted keys, e.g. `train.manual_gc: true`) are merged last.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nano3.stages._config import default_output_dir
from nano3.stages._external import apply_dotted, dump_yaml, snapshot
from nano3.stages._result import StageResult
from nano3.stages.errors import BackendRunError, BackendUnavailableError, StageConfigError

__all__ = ["ENTRY_NAME", "RECIPE", "YAML_NAME", "check_bridge_keys", "launch_megatron_bridge",
           "render_megatron_bridge", "to_megatron_bridge"]

RECIPE = "vanilla_gpt_pretrain_config"
ENTRY_NAME = "megatron_bridge_entry.py"
YAML_NAME = "megatron_bridge.yaml"

_SCRIPT = '''"""nano3 {stage} on Megatron-Bridge (written by nano3.stages, backend megatron-bridge).

Run in a Megatron-Bridge container:
    torchrun --nproc-per-node=N {entry} [KEY=VALUE ...]
"""
import sys
from pathlib import Path

{imports}from megatron.bridge.recipes.gpt.vanilla_gpt import {recipe}
from megatron.bridge.training.{run} import {run}
from megatron.bridge.training.gpt_step import forward_step
from megatron.bridge.training.utils.omegaconf_utils import process_config_with_overrides

cfg = {recipe}()
{swap}yaml_file = Path(__file__).with_name("{yaml}")
cfg = process_config_with_overrides(cfg, config_filepath=str(yaml_file),
                                    cli_overrides=sys.argv[1:])
{run}(cfg, forward_step)
'''
# Bridge has no GPT SFT recipe: the pretrain recipe gets the dataset class its SFT recipes use.
_SFT_IMPORTS = """from megatron.bridge.data.packing.config import PackedSequenceSpecs
from megatron.bridge.training.config import GPTSFTDatasetConfig
"""
_SFT_SWAP = """cfg.dataset = GPTSFTDatasetConfig(seq_length=cfg.model.seq_length, dataset_root=".",
                                  enable_offline_packing=True,
                                  offline_packing_specs=PackedSequenceSpecs())
"""


def _out_dir(cfg: Any) -> Path:
    return Path(cfg.output_dir or default_output_dir(cfg.artifact_name))


def _parquet_spec(files: list[Path], what: str) -> str | None:
    """One packed-parquet spec (a file or a glob, as Bridge accepts) for a split's files."""
    if len(files) <= 1:
        return str(files[0]) if files else None
    parent = files[0].parent
    glob = os.path.commonprefix([f.name for f in files]) + "*.parquet"
    if sorted(parent.glob(glob)) != sorted(files):
        raise StageConfigError("sft", "data", f"the {what} files {[str(f) for f in files]} "
                                        "are not exactly one glob; Bridge takes one spec")
    return str(parent / glob)


def _pretrain_data(cfg: Any) -> dict[str, Any]:
    from nano3.stages._data_paths import load_blend

    _, blend = load_blend(cfg.data)
    per_split = [[[e.prefix for e in entries], [e.weight for e in entries]]
                 if (entries := blend.get(s)) else None for s in ("train", "valid", "test")]
    return {"blend_per_split": per_split, "split": None, "seq_length": cfg.model.seq_length,
            "random_seed": cfg.trainer.seed}


def _sft_inputs(cfg: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """SFT's model and tokenizer (from the pretrain run's YAML) and its dataset section."""
    import yaml

    from nano3.stages._data_paths import load_blend

    model_dir = Path(cfg.model.path)
    # The ModelArtifact is `output_dir/checkpoints` (or `output_dir`); the YAML is in output_dir.
    pretrain_yaml = next((d / YAML_NAME for d in (model_dir, model_dir.parent)
                          if (d / YAML_NAME).is_file()), None)
    if pretrain_yaml is None:
        raise StageConfigError("sft", "model", f"{model_dir} has no {YAML_NAME} beside it, "
                                        "so it is not a megatron-bridge pretrain output; "
                                        "pretrain with backend=megatron-bridge first")
    pretrained = yaml.safe_load(pretrain_yaml.read_text())
    model = dict(pretrained["model"])
    _, blend = load_blend(cfg.data)
    splits = {s: [Path(e.prefix) for e in blend.get(s) or []] for s in ("train", "valid")}
    seq = int(model["seq_length"])
    specs = {"packed_sequence_size": seq,
             "packed_train_data_path": _parquet_spec(splits["train"], "train"),
             "packed_val_data_path": _parquet_spec(splits["valid"], "valid")}
    return model, dict(pretrained.get("tokenizer") or {}), {
        "dataset_root": str(cfg.data.path), "seq_length": seq,
        "seed": cfg.trainer.seed, "enable_offline_packing": True,
        "offline_packing_specs": specs}


def to_megatron_bridge(stage: str, cfg: Any) -> dict[str, Any]:
    """Translate a pretrain/SFT config to the YAML tree Bridge's overrides take."""
    tr, opt = cfg.trainer, cfg.optimizer
    options = dict(cfg.backend_options)
    dp = int(options.pop("data_parallel_size", 1))
    ckpt = str(_out_dir(cfg) / "checkpoints")
    if stage == "pretrain":
        m = cfg.model
        model = {"num_layers": m.num_layers, "hidden_size": m.hidden_size,
                 "num_attention_heads": m.num_attention_heads,
                 "ffn_hidden_size": m.ffn_hidden_size, "seq_length": m.seq_length,
                 "vocab_size": m.vocab_size, "hidden_dropout": m.dropout,
                 "attention_dropout": m.dropout, "init_method_std": m.init_std,
                 "share_embeddings_and_output_weights": True}
        dataset = _pretrain_data(cfg)
        tokenizer = {"tokenizer_type": "NullTokenizer", "vocab_size": m.vocab_size}
    else:
        model, tokenizer, dataset = _sft_inputs(cfg)
    tree: dict[str, Any] = {
        "model": model,
        "train": {"train_iters": tr.max_steps, "micro_batch_size": tr.micro_batch_size,
                  "global_batch_size": tr.micro_batch_size * tr.grad_accum_steps * dp},
        "validation": {"eval_iters": tr.eval_batches, "eval_interval": tr.checkpoint_every},
        "optimizer": {"lr": opt.lr, "min_lr": opt.min_lr, "weight_decay": opt.weight_decay,
                      "adam_beta1": opt.beta1, "adam_beta2": opt.beta2,
                      "clip_grad": opt.clip_grad},
        "scheduler": {"lr_decay_style": "cosine", "lr_warmup_iters": opt.warmup_steps,
                      "lr_decay_iters": tr.max_steps},
        "dataset": dataset,
        "tokenizer": tokenizer,
        "checkpoint": {"save": ckpt, "load": ckpt, "save_interval": tr.checkpoint_every,
                       "most_recent_k": tr.keep_checkpoints},
        "logger": {"log_interval": tr.log_every},
        "rng": {"seed": tr.seed},
    }
    if stage == "sft":
        tree["checkpoint"]["pretrained_checkpoint"] = cfg.model.path
    return apply_dotted(tree, options)


def check_bridge_keys(stage: str, tree: dict[str, Any]) -> None:
    """Raise `StageConfigError` naming every key that is not a field of its Bridge section."""
    sections = snapshot("megatron_bridge_fields")["sections"]
    problems: list[tuple[str, str]] = []

    def walk(path: str, node: dict[str, Any]) -> None:
        section = sections.get(f"{stage}:{path}") or sections[path]
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key not in section["fields"]:
                problems.append((sub, f"{key!r} is not a field of {section['class']} "
                                 "(megatron-bridge 0.6.2); check its spelling"))
            elif isinstance(value, dict) and (sub in sections or f"{stage}:{sub}" in sections):
                walk(sub, value)

    walk("", tree)
    if problems:
        (key, detail), rest = problems[0], problems[1:]
        also = f" (also not Bridge fields: {', '.join(k for k, _ in rest)})" if rest else ""
        raise StageConfigError(stage, key, detail + also)


def render_megatron_bridge(stage: str, cfg: Any) -> tuple[str, str]:
    """The entry script and YAML text the container runs (checked against the snapshot)."""
    tree = to_megatron_bridge(stage, cfg)
    check_bridge_keys(stage, tree)
    script = _SCRIPT.format(stage=stage, entry=ENTRY_NAME, recipe=RECIPE, yaml=YAML_NAME,
                            imports=_SFT_IMPORTS if stage == "sft" else "",
                            swap=_SFT_SWAP if stage == "sft" else "",
                            run="pretrain" if stage == "pretrain" else "finetune")
    return script, dump_yaml(tree)


def launch_megatron_bridge(stage: str, cfg: Any) -> StageResult:
    """Write the entry script and YAML into output_dir; run them where Bridge imports."""
    script, yaml_text = render_megatron_bridge(stage, cfg)
    out = _out_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / YAML_NAME).write_text(yaml_text)
    entry = out / ENTRY_NAME
    entry.write_text(script)
    if importlib.util.find_spec("megatron") is None or \
            importlib.util.find_spec("megatron.bridge") is None:
        raise BackendUnavailableError(
            "megatron-bridge", "megatron.bridge",
            hint=f"wrote {entry} and {out / YAML_NAME}; in a Megatron-Bridge container run "
                 f"`torchrun --nproc-per-node=N {entry}`, or use backend=megatron-core")
    code = subprocess.call([sys.executable, str(entry)])
    if code != 0:
        raise BackendRunError("megatron-bridge", code, str(out))
    return StageResult(str(out / "checkpoints"), cfg.trainer.max_steps, None, True,
                       {"stage": stage, "backend": "megatron-bridge"})
