"""Stage configs: every bad value is reported with its key path; shipped YAMLs are consistent."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from kit_artifacts import (
    Artifact,
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from kit_config import structure, unstructure
from kit_config.errors import ConfigValidationError
from nano3.recipe import CONFIG_ROOT as CONFIG_DIR
from nano3.recipe import RECIPE
from nano3.stages import (
    GRPOConfig,
    ModelConfig,
    OptimizerConfig,
    PretrainConfig,
    RLConfig,
    SFTConfig,
    TrainerConfig,
)

from .conftest import typed


def _plain(cfg: Any) -> dict[str, Any]:
    """`cfg` as a plain config, its typed inputs kept as the artifacts they are (as if loaded)."""
    plain = unstructure(cfg)
    plain.update({k: v for k in ("data", "model")
                  if isinstance(v := getattr(cfg, k, None), Artifact)})
    return plain


def _problems(cfg: object) -> list[tuple[str, str]]:
    """The problems `kit_config.structure` reports for `cfg` (type and `__kit_validate__`)."""
    with pytest.raises(ConfigValidationError) as info:
        structure(_plain(cfg), type(cfg))
    return [(p.path, p.message) for p in info.value.problems]


PRE_DATA = typed(PretrainBlendsArtifact, "/d")
SFT_DATA = typed(SFTDataArtifact, "/d")
RL_DATA = typed(SplitJsonlDataArtifact, "/d/manifest.json")
MODEL = typed(ModelArtifact, "/m")


def _pre(**kw: object) -> PretrainConfig:
    return PretrainConfig(data=PRE_DATA, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stage", "cfg", "path"),
    [
        pytest.param("pretrain", _pre(backend="nemo-rl"), "backend", id="backend-not-for-stage"),
        pytest.param("pretrain", _pre(output_dir=" "), "output_dir", id="blank-output-dir"),
        pytest.param("pretrain", _pre(model=ModelConfig(hidden_size=30, num_attention_heads=4)),
                     "model.hidden_size", id="heads-do-not-divide"),
        pytest.param("pretrain", _pre(model=ModelConfig(num_layers=0)), "model.num_layers",
                     id="zero-layers"),
        pytest.param("pretrain", _pre(model=ModelConfig(dropout=1.0)), "model.dropout",
                     id="dropout-one"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(lr=0.0)), "optimizer.lr",
                     id="zero-lr"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(lr=1e-3, min_lr=1e-2)),
                     "optimizer.min_lr", id="min-lr-above-lr"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(beta1=1.0)), "optimizer.beta1",
                     id="beta-one"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(warmup_steps=-1)),
                     "optimizer.warmup_steps", id="negative-warmup"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(trainable=[])),
                     "optimizer.trainable", id="nothing-trainable"),
        pytest.param("pretrain", _pre(optimizer=OptimizerConfig(
            trainable=["decoder.final_layernorm.*", " "])),
                     "optimizer.trainable", id="blank-trainable-pattern"),
        pytest.param("pretrain", _pre(backend="megatron-bridge", optimizer=OptimizerConfig(
            trainable=["decoder.final_layernorm.*"])),
                     "optimizer.trainable", id="freezing-on-megatron-bridge"),
        pytest.param("pretrain", _pre(trainer=TrainerConfig(max_steps=0)), "trainer.max_steps",
                     id="zero-steps"),
        pytest.param("pretrain", _pre(trainer=TrainerConfig(device="tpu")), "trainer.device",
                     id="unknown-device"),
        pytest.param("pretrain", _pre(trainer=TrainerConfig(num_threads=-2)),
                     "trainer.num_threads", id="negative-threads"),
        pytest.param("sft", SFTConfig(data=SFT_DATA, model=MODEL, artifact_name=" "),
                     "artifact_name", id="blank-artifact-name"),
        pytest.param("rl", RLConfig(data=RL_DATA, model=MODEL,
                                    grpo=GRPOConfig(num_generations_per_prompt=1)),
                     "grpo.num_generations_per_prompt", id="group-of-one"),
        pytest.param("rl", RLConfig(data=RL_DATA, model=MODEL, grpo=GRPOConfig(reward="bleu")),
                     "grpo.reward", id="unknown-reward"),
        pytest.param("rl", RLConfig(data=RL_DATA, model=MODEL,
                                    grpo=GRPOConfig(prompt_template="no placeholder")),
                     "grpo.prompt_template", id="template-without-prompt"),
        pytest.param("rl", RLConfig(data=RL_DATA, model=MODEL, grpo=GRPOConfig(temperature=0)),
                     "grpo.temperature", id="zero-temperature"),
    ],
)
def test_bad_values_are_reported_with_their_path(stage: str, cfg: object, path: str) -> None:
    """A bad value is a ConfigValidationError problem naming its key path, from `structure`."""
    assert RECIPE.stage(stage).config_class() is type(cfg)
    assert path in [p for p, _ in _problems(cfg)]


def test_every_problem_is_collected() -> None:
    """Several bad values are all reported in one error."""
    cfg = _pre(model=ModelConfig(num_layers=0), optimizer=OptimizerConfig(lr=-1.0),
               trainer=TrainerConfig(max_steps=0))
    paths = {p for p, _ in _problems(cfg)}
    assert {"model.num_layers", "optimizer.lr", "trainer.max_steps"} <= paths


def test_defaults_are_valid() -> None:
    """The class defaults pass validation for every stage."""
    for cfg in (_pre(), SFTConfig(data=SFT_DATA, model=MODEL), RLConfig(data=RL_DATA, model=MODEL)):
        assert structure(_plain(cfg), type(cfg)) == cfg


EXPECTED_INPUTS = {
    ("pretrain", "tiny"): ({"data": "nano3-pretrain-data-tiny"}, "nano3-pretrain-model-tiny"),
    ("sft", "tiny"): ({"data": "nano3-sft-data-tiny", "model": "nano3-pretrain-model-tiny"},
                      "nano3-sft-model-tiny"),
    ("rl", "tiny"): ({"data": "nano3-rl-data-tiny", "model": "nano3-sft-model-tiny"},
                     "nano3-rl-model-tiny"),
    ("pretrain", "default"): ({"data": "nano3-pretrain-data"}, "nano3-pretrain-model"),
    ("sft", "default"): ({"data": "nano3-sft-data", "model": "nano3-pretrain-model"},
                         "nano3-sft-model"),
    ("rl", "default"): ({"data": "nano3-rl-data", "model": "nano3-sft-model"}, "nano3-rl-model"),
}


@pytest.mark.parametrize(("stage", "name"), sorted(EXPECTED_INPUTS), ids=lambda x: str(x))
def test_shipped_configs_consume_what_the_previous_stage_publishes(stage: str,
                                                                   name: str) -> None:
    """Each shipped YAML takes inputs only via ${art:...} with the names the chain publishes."""
    raw = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / stage / f"{name}.yaml"),
                                 resolve=False)
    assert isinstance(raw, dict)
    inputs, published = EXPECTED_INPUTS[(stage, name)]
    for key, art in inputs.items():
        assert raw[key] == f"${{art:{art}}}"
    assert raw["artifact_name"] == published
    for other in ("data", "model"):
        if other not in inputs and other in raw:
            assert not isinstance(raw[other], str) or "/" not in raw[other]


@pytest.mark.parametrize("stage", ["pretrain", "sft", "rl"])
@pytest.mark.parametrize("name", ["tiny", "default"])
def test_shipped_configs_structure_and_validate(stage: str, name: str, tmp_path: Path) -> None:
    """Each shipped YAML (inputs replaced by data paths) structures into its class and
    validates (`__kit_validate__` runs inside `structure`)."""
    from kit_config import compose

    schema = RECIPE.stage(stage).config_class()
    assert schema is not None

    kinds = {"pretrain": PretrainBlendsArtifact, "sft": SFTDataArtifact,
             "rl": SplitJsonlDataArtifact}
    (tmp_path / "data").mkdir()
    where = tmp_path / "data" / "manifest.json" if stage == "rl" else tmp_path / "data"
    if stage == "rl":
        where.write_text("{}")
    data = typed(kinds[stage], where, write=True)
    model = typed(ModelArtifact, tmp_path / "model", write=True)
    overrides = [f"data={data.path}"] + ([] if stage == "pretrain" else [f"model={model.path}"])
    cfg: Any = structure(compose(CONFIG_DIR / stage / f"{name}.yaml", overrides, schema=schema),
                         schema)
    assert isinstance(cfg.data, kinds[stage])


@pytest.mark.parametrize(("override", "needle"), [
    pytest.param("data=art://nope", "nope", id="unknown-artifact"),
    pytest.param("data=", "expected an art://NAME", id="empty"),
    pytest.param("data=${art:nope}", "cannot resolve", id="unresolvable"),
    pytest.param("data=art://sft-data", "holds a SFTDataArtifact, not a PretrainBlendsArtifact",
                 id="wrong-type"),
])
def test_bad_inputs_are_config_problems_at_data(override: str, needle: str,
                                                tmp_path: Path) -> None:
    """A typed input that is missing or of the wrong type is reported at `data`."""
    from kit_config import compose

    typed(SFTDataArtifact, tmp_path / "sft", write=True).save(name="sft-data")
    with pytest.raises(ConfigValidationError) as info:
        structure(compose(CONFIG_DIR / "pretrain" / "tiny.yaml", [override],
                          schema=PretrainConfig), PretrainConfig)
    assert [p.path for p in info.value.problems] == ["data"]
    assert needle in str(info.value)
