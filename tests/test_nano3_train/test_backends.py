"""megatron-bridge and nemo-rl: translation checked against the frameworks' real schemas.

Neither framework runs here; their schemas are checked-in snapshots read from their released
source (`config/backends/*.json`), so a key they would not accept fails these tests.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_artifacts import (
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from nano3.stages import BackendUnavailableError, StageConfigError, train
from nano3.stages._config import (
    GRPOConfig,
    ModelConfig,
    OptimizerConfig,
    PretrainConfig,
    RLConfig,
    SFTConfig,
    TrainerConfig,
)
from nano3.stages._external import key_paths, snapshot
from nano3.stages._megatron_bridge import (
    ENTRY_NAME,
    YAML_NAME,
    render_megatron_bridge,
    to_megatron_bridge,
)
from nano3.stages._nemo_rl import CONFIG_NAME, render_nemo_rl, to_nemo_rl

from .conftest import load_typed, typed


def _pretrain(data: Path, out: Path, **options: Any) -> PretrainConfig:
    return PretrainConfig(
        data=load_typed(PretrainBlendsArtifact, data), output_dir=str(out),
        backend="megatron-bridge",
        model=ModelConfig(vocab_size=50304, seq_length=512, num_layers=3, hidden_size=96,
                          num_attention_heads=4, ffn_hidden_size=384, dropout=0.1),
        optimizer=OptimizerConfig(lr=1e-3, min_lr=1e-4, weight_decay=0.05, beta1=0.8,
                                  beta2=0.9, clip_grad=0.5, warmup_steps=7),
        trainer=TrainerConfig(max_steps=11, micro_batch_size=3, grad_accum_steps=2, seed=5,
                              log_every=2, eval_batches=4, checkpoint_every=6,
                              keep_checkpoints=3),
        backend_options={"data_parallel_size": 4, **options})


def _sft(sft_data: Path, pretrain_data: Path, tmp_path: Path, **options: Any) -> SFTConfig:
    """An SFT config whose model is a megatron-bridge pretrain output (its YAML written)."""
    pre = _pretrain(pretrain_data, tmp_path / "pre")
    (tmp_path / "pre").mkdir()
    (tmp_path / "pre" / YAML_NAME).write_text(render_megatron_bridge("pretrain", pre)[1])
    return SFTConfig(data=load_typed(SFTDataArtifact, sft_data),
                     model=typed(ModelArtifact, tmp_path / "pre" / "checkpoints"),
                     output_dir=str(tmp_path / "sft"), backend="megatron-bridge",
                     backend_options=options)


def _rl(rl_manifest: Path, tmp_path: Path, **options: Any) -> RLConfig:
    return RLConfig(data=load_typed(SplitJsonlDataArtifact, rl_manifest),
                    model=typed(ModelArtifact, "/hf/model"), output_dir=str(tmp_path),
                    backend="nemo-rl",
                    grpo=GRPOConfig(num_prompts_per_step=4, num_generations_per_prompt=6,
                                    max_new_tokens=9, kl_coef=0.02, eval_prompts=10),
                    trainer=TrainerConfig(max_steps=3, seed=9), backend_options=options)


def test_pretrain_translation(pretrain_data: Path, tmp_path: Path) -> None:
    """Every pretrain setting lands on its Megatron-Bridge section and field."""
    t = to_megatron_bridge("pretrain", _pretrain(pretrain_data, tmp_path,
                                                 **{"train.manual_gc": True}))
    assert t["model"]["num_layers"] == 3 and t["model"]["hidden_size"] == 96
    assert t["model"]["hidden_dropout"] == 0.1 and t["model"]["seq_length"] == 512
    assert t["train"] == {"train_iters": 11, "micro_batch_size": 3, "global_batch_size": 24,
                          "manual_gc": True}
    assert t["validation"] == {"eval_iters": 4, "eval_interval": 6}
    assert t["optimizer"]["adam_beta1"] == 0.8 and t["optimizer"]["clip_grad"] == 0.5
    assert t["scheduler"] == {"lr_decay_style": "cosine", "lr_warmup_iters": 7,
                              "lr_decay_iters": 11}
    train_blend, valid_blend, test_blend = t["dataset"]["blend_per_split"]
    assert train_blend == [[str(pretrain_data / "shard_000000"),
                            str(pretrain_data / "shard_000001")], [0.7, 0.3]]
    assert valid_blend == [[str(pretrain_data / "valid_000000")], [1.0]] and test_blend is None
    assert t["dataset"]["split"] is None
    assert t["checkpoint"]["save"] == str(tmp_path / "checkpoints")
    assert t["checkpoint"]["most_recent_k"] == 3
    assert t["rng"]["seed"] == 5 and t["logger"]["log_interval"] == 2


def test_sft_translation(sft_data: Path, pretrain_data: Path, tmp_path: Path) -> None:
    """SFT takes the pretrain run's model shape, the packed Parquet and its checkpoint."""
    t = to_megatron_bridge("sft", _sft(sft_data, pretrain_data, tmp_path))
    assert t["model"]["num_layers"] == 3 and t["model"]["seq_length"] == 512
    assert t["tokenizer"] == {"tokenizer_type": "NullTokenizer", "vocab_size": 50304}
    specs = t["dataset"]["offline_packing_specs"]
    assert specs == {"packed_sequence_size": 512,
                     "packed_train_data_path": str(sft_data / "train.parquet"),
                     "packed_val_data_path": str(sft_data / "valid.parquet")}
    assert t["dataset"]["enable_offline_packing"] is True
    assert t["checkpoint"]["pretrained_checkpoint"] == str(tmp_path / "pre" / "checkpoints")


def test_sft_needs_a_megatron_bridge_pretrain(sft_data: Path, tmp_path: Path) -> None:
    """A model directory without the pretrain YAML beside it is refused, naming `model`."""
    cfg = SFTConfig(data=load_typed(SFTDataArtifact, sft_data),
                    model=typed(ModelArtifact, tmp_path / "ckpt"), backend="megatron-bridge")
    with pytest.raises(StageConfigError, match="model: .*pretrain with backend=megatron-bridge"):
        to_megatron_bridge("sft", cfg)


def _bridge_keys(stage: str, tree: dict[str, Any]) -> list[str]:
    """Each emitted key that the Bridge snapshot does not list for its section."""
    sections = snapshot("megatron_bridge_fields")["sections"]
    bad = []
    for path in key_paths(tree):
        parent, _, leaf = path.rpartition(".")
        section = sections.get(f"{stage}:{parent}") or sections.get(parent)
        if section is not None and leaf not in section["fields"]:
            bad.append(path)
    return bad


def test_every_bridge_key_is_a_field_of_its_section(pretrain_data: Path, sft_data: Path,
                                                     tmp_path: Path) -> None:
    """Pretrain and SFT YAMLs use only fields of Bridge 0.6.2's dataclasses."""
    pre = yaml.safe_load(render_megatron_bridge("pretrain", _pretrain(pretrain_data,
                                                                      tmp_path))[1])
    sft = yaml.safe_load(render_megatron_bridge("sft", _sft(sft_data, pretrain_data,
                                                            tmp_path))[1])
    assert _bridge_keys("pretrain", pre) == [] and _bridge_keys("sft", sft) == []
    assert set(pre) <= set(snapshot("megatron_bridge_fields")["sections"][""]["fields"])


@pytest.mark.parametrize(("stage", "key", "named"), [
    pytest.param("pretrain", "train.train_iter", "train.train_iter", id="pretrain-train-typo"),
    pytest.param("pretrain", "modle.num_layers", "modle", id="pretrain-unknown-section"),
    pytest.param("pretrain", "rng.sead", "rng.sead", id="pretrain-field-typo"),
    pytest.param("sft", "dataset.offline_packing_specs.packed_train_path",
                 "dataset.offline_packing_specs.packed_train_path", id="sft-nested"),
    pytest.param("sft", "dataset.blend_per_split", "dataset.blend_per_split",
                 id="sft-pretrain-only-field"),
])
def test_misspelt_bridge_key_fails_naming_it(stage: str, key: str, named: str,
                                             pretrain_data: Path, sft_data: Path,
                                             tmp_path: Path) -> None:
    """An unknown key (here via backend_options) is a StageConfigError naming its path."""
    opts = {key: 1}
    cfg = (_pretrain(pretrain_data, tmp_path, **opts) if stage == "pretrain"
           else _sft(sft_data, pretrain_data, tmp_path, **opts))
    with pytest.raises(StageConfigError) as info:
        render_megatron_bridge(stage, cfg)
    assert info.value.key_path == named
    assert named in str(info.value) and "megatron-bridge 0.6.2" in str(info.value)


@pytest.mark.parametrize("stage", ["pretrain", "sft"])
def test_entry_script_builds_the_recipe_and_applies_the_yaml(
        stage: str, pretrain_data: Path, sft_data: Path, tmp_path: Path) -> None:
    """The script compiles, imports only names the wheels define, and runs the recipe."""
    cfg = (_pretrain(pretrain_data, tmp_path) if stage == "pretrain"
           else _sft(sft_data, pretrain_data, tmp_path))
    script, yaml_text = render_megatron_bridge(stage, cfg)
    tree = ast.parse(script)
    compile(tree, ENTRY_NAME, "exec")
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names if (n.module or "").startswith("megatron")}
    known = snapshot("megatron_bridge_fields")["imports"]
    assert all(known.get(m) == name for m, name in imported), imported
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "vanilla_gpt_pretrain_config" in calls and "process_config_with_overrides" in calls
    assert ("pretrain" if stage == "pretrain" else "finetune") in calls
    assert "from_dict" not in script
    assert yaml.safe_load(yaml_text) == to_megatron_bridge(stage, cfg)


def test_rl_translation(rl_manifest: Path, tmp_path: Path) -> None:
    """RL maps GRPO, loss, generation, data and checkpoint settings to NeMo-RL keys."""
    t = to_nemo_rl(_rl(rl_manifest, tmp_path, **{"policy.precision": "float32"}))
    assert t["defaults"] == "/opt/nemo-rl/examples/configs/grpo_math_1B.yaml"
    assert t["grpo"]["num_prompts_per_step"] == 4
    assert t["grpo"]["num_generations_per_prompt"] == 6
    assert t["grpo"]["max_num_steps"] == 3 and t["grpo"]["seed"] == 9
    assert t["loss_fn"]["reference_policy_kl_penalty"] == 0.02
    assert t["policy"]["generation"]["max_new_tokens"] == 9
    assert t["policy"]["train_global_batch_size"] == 24
    assert t["policy"]["model_name"] == "/hf/model" and t["policy"]["precision"] == "float32"
    manifest = json.loads(rl_manifest.read_text())
    assert [d["data_path"] for d in t["data"]["train"]] == [manifest["train"]]
    assert t["data"]["validation"]["data_path"].endswith("val.jsonl")
    assert t["data"]["default"]["dataset_name"] == "ResponseDataset"


def test_nemo_rl_keys_are_the_example_configs(rl_manifest: Path, tmp_path: Path) -> None:
    """Every key path we emit is one of NeMo-RL's grpo_math_1B.yaml (snapshot), except the
    directives of NeMo-RL's config loader: `defaults` (inherit) and `_override_` (replace)."""
    tree = yaml.safe_load(render_nemo_rl(_rl(rl_manifest, tmp_path)))
    ours = set(key_paths(tree)) - {"defaults", "data._override_"}
    assert ours <= set(snapshot("nemo_rl_grpo_keys")["key_paths"])
    assert {"data.train.data_path", "data.default.dataset_name", "grpo.max_num_steps"} <= ours


def test_misspelt_nemo_rl_key_fails_naming_it(rl_manifest: Path, tmp_path: Path) -> None:
    """A key path NeMo-RL's example lacks is a StageConfigError naming it."""
    with pytest.raises(StageConfigError) as info:
        render_nemo_rl(_rl(rl_manifest, tmp_path, **{"policy.generaton.top_p": 0.9}))
    assert info.value.key_path == "policy.generaton"
    assert "also unknown: policy.generaton.top_p" in str(info.value)


@pytest.mark.parametrize(("stage", "written", "command"), [
    pytest.param("pretrain", [ENTRY_NAME, YAML_NAME], "torchrun", id="megatron-bridge-pretrain"),
    pytest.param("rl", [CONFIG_NAME], "examples/run_grpo.py --config", id="nemo-rl"),
])
def test_cannot_run_here_says_what_to_run(stage: str, written: list[str], command: str,
                                          pretrain_data: Path, rl_manifest: Path,
                                          tmp_path: Path) -> None:
    """Without the framework: the files are written, and the error (exit 2) says the command."""
    cfg = (_pretrain(pretrain_data, tmp_path) if stage == "pretrain"
           else _rl(rl_manifest, tmp_path))
    with pytest.raises(BackendUnavailableError) as info:
        train(stage, cfg)
    assert info.value.exit_code == 2 and command in str(info.value)
    for name in written:
        assert (tmp_path / name).is_file() and str(tmp_path / name) in str(info.value)
