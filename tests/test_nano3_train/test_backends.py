"""megatron-bridge and nemo-rl: the documented translation and the absent-framework error."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import attrs
import pytest

from nano3.stages import BackendUnavailableError, train
from nano3.stages._config import (
    GRPOConfig,
    ModelConfig,
    OptimizerConfig,
    PretrainConfig,
    RLConfig,
    SFTConfig,
    TrainerConfig,
)
from nano3.stages._megatron_bridge import apply_dotted, to_megatron_bridge
from nano3.stages._nemo_rl import to_nemo_rl


def test_pretrain_translation(pretrain_data: Path, tmp_path: Path) -> None:
    """Every pretrain setting lands on its Megatron-Bridge key."""
    cfg = PretrainConfig(
        data=str(pretrain_data), output_dir=str(tmp_path / "out"), backend="megatron-bridge",
        model=ModelConfig(vocab_size=50304, seq_length=512, num_layers=3, hidden_size=96,
                          num_attention_heads=4, ffn_hidden_size=384, dropout=0.1),
        optimizer=OptimizerConfig(lr=1e-3, min_lr=1e-4, weight_decay=0.05, beta1=0.8,
                                  beta2=0.9, clip_grad=0.5, warmup_steps=7),
        trainer=TrainerConfig(max_steps=11, micro_batch_size=3, grad_accum_steps=2, seed=5,
                              log_every=2, eval_batches=4, checkpoint_every=6),
        backend_options={"data_parallel_size": 4, "train.manual_gc": True})
    t = to_megatron_bridge("pretrain", cfg)
    assert t["model"]["num_layers"] == 3 and t["model"]["hidden_size"] == 96
    assert t["model"]["hidden_dropout"] == 0.1 and t["model"]["seq_length"] == 512
    assert t["train"] == {"train_iters": 11, "micro_batch_size": 3, "global_batch_size": 24,
                          "eval_iters": 4, "eval_interval": 6, "manual_gc": True}
    assert t["optimizer"]["adam_beta1"] == 0.8 and t["optimizer"]["clip_grad"] == 0.5
    assert t["scheduler"] == {"lr_decay_style": "cosine", "lr_warmup_iters": 7,
                              "lr_decay_iters": 11}
    assert t["dataset"]["per_split_data_args_path"] == str(pretrain_data / "blend.json")
    assert t["checkpoint"]["save"] == str(tmp_path / "out" / "checkpoints")
    assert t["rng"]["seed"] == 5 and t["logger"]["log_interval"] == 2


def test_sft_translation(sft_data: Path, tmp_path: Path) -> None:
    """SFT maps the packed Parquet splits and the pretrained checkpoint."""
    cfg = SFTConfig(data=str(sft_data), model="/ckpt/step_000010", output_dir=str(tmp_path),
                    backend="megatron-bridge")
    t = to_megatron_bridge("sft", cfg, ModelConfig(seq_length=256))
    specs = t["dataset"]["packed_sequence_specs"]
    assert specs["packed_train_data_path"] == [str(sft_data / "train.parquet")]
    assert specs["packed_val_data_path"] == [str(sft_data / "valid.parquet")]
    assert specs["packed_sequence_size"] == 256
    assert t["checkpoint"]["pretrained_checkpoint"] == "/ckpt/step_000010"


def test_rl_translation(rl_manifest: Path, tmp_path: Path) -> None:
    """RL maps GRPO, loss, generation, data and checkpoint settings to NeMo-RL keys."""
    cfg = RLConfig(data=str(rl_manifest), model="/hf/model", output_dir=str(tmp_path),
                   backend="nemo-rl",
                   grpo=GRPOConfig(num_prompts_per_step=4, num_generations_per_prompt=6,
                                   max_new_tokens=9, kl_coef=0.02, eval_prompts=10),
                   trainer=TrainerConfig(max_steps=3, seed=9),
                   backend_options={"policy.precision": "bfloat16", "num_nodes": 2})
    t = to_nemo_rl(cfg)
    assert t["grpo"]["num_prompts_per_step"] == 4
    assert t["grpo"]["num_generations_per_prompt"] == 6
    assert t["grpo"]["max_num_steps"] == 3 and t["grpo"]["seed"] == 9
    assert t["grpo"]["normalize_rewards"] is True
    assert t["loss_fn"]["reference_policy_kl_penalty"] == 0.02
    assert t["policy"]["generation"]["max_new_tokens"] == 9
    assert t["policy"]["train_global_batch_size"] == 24
    assert t["policy"]["model_name"] == "/hf/model" and t["policy"]["precision"] == "bfloat16"
    assert t["data"]["train_data_path"].endswith("train_0.jsonl")
    assert t["data"]["val_data_path"].endswith("val.jsonl")
    assert t["cluster"]["num_nodes"] == 2


def test_apply_dotted_creates_nested_keys() -> None:
    """Dotted backend options create and overwrite nested keys."""
    assert apply_dotted({"a": {"b": 1}}, {"a.b": 2, "c.d.e": 3}) == {"a": {"b": 2},
                                                                     "c": {"d": {"e": 3}}}


@pytest.mark.parametrize(("stage", "cfg", "module"), [
    pytest.param("pretrain", PretrainConfig(data="/d", backend="megatron-bridge"),
                 "megatron.bridge", id="megatron-bridge-pretrain"),
    pytest.param("sft", SFTConfig(data="/d", model="/m", backend="megatron-bridge"),
                 "megatron.bridge", id="megatron-bridge-sft"),
    pytest.param("rl", RLConfig(data="/d", model="/m", backend="nemo-rl"), "nemo_rl",
                 id="nemo-rl"),
])
def test_absent_framework_is_a_clear_error(stage: str, cfg: object, module: str,
                                           tmp_path: Path) -> None:
    """Without the framework installed, the backend fails naming the module and the fix."""
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is not None and (
            "." not in module or importlib.util.find_spec(module) is not None):
        pytest.skip(f"{module} is installed here")
    with pytest.raises(BackendUnavailableError) as info:
        train(stage, attrs.evolve(cfg, output_dir=str(tmp_path)))  # type: ignore[misc]
    assert info.value.module == module
    assert "backend=local" in str(info.value)
