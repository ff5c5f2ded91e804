"""A stage that names its typed config: checked at plan time, deferred inputs included."""
from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from kit_cli import Recipe, Stage, run_stage, run_stage_job
from kit_config.errors import ConfigProblem


@attrs.frozen
class Train:
    lr: float = 0.1
    steps: int = 1

    def __kit_validate__(self) -> list[ConfigProblem]:
        return [ConfigProblem("lr", "must be > 0")] if self.lr <= 0 else []


@attrs.frozen
class DemoConfig:
    out: str
    train: Train = attrs.Factory(Train)
    data: str | None = None


@pytest.fixture()
def typed_recipe(config_dir: Path) -> Recipe:
    (config_dir / "chained.yaml").write_text("out: x\ndata: ${art:later-data,path}\n")
    stage = Stage("train", "test_kit_cli.demo_stage", "Train.", config_dir,
                  config="test_kit_cli.test_typed_stage:DemoConfig")
    return Recipe("demo", "Demo.", (stage,))


@pytest.mark.parametrize(("override", "needle"), [
    pytest.param("train.lr=abc", "expected float, got 'abc' @ train.lr", id="wrong-type"),
    pytest.param("train.lr=-1", "must be > 0 @ train.lr (override 'train.lr=-1')",
                 id="semantic"),
    pytest.param("train.step=3", "did you mean 'train.steps'?); write train.steps=3",
                 id="unknown-key"),
    pytest.param("~out", "missing required field (str) @ out (override '~out')",
                 id="missing-required"),
])
def test_bad_value_fails_at_plan_time(typed_recipe: Recipe, isolated_home: Path,
                                      capsys: pytest.CaptureFixture[str], override: str,
                                      needle: str) -> None:
    assert run_stage(typed_recipe, "train", ["-c", "tiny", override]) == 2
    assert needle in capsys.readouterr().err
    assert not (isolated_home / "launches").exists()


def test_a_key_only_the_class_has_needs_no_plus(typed_recipe: Recipe, isolated_home: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run_stage(typed_recipe, "train", ["-c", "tiny", "-d", "data=/d"]) == 0
    assert "data: /d" in capsys.readouterr().out


def test_a_deferred_input_is_checked_as_text(typed_recipe: Recipe, isolated_home: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An input that an upstream job publishes later does not exist yet: not an error."""
    launch = run_stage_job(typed_recipe, "train", ["-c", "chained", "-d"],
                           defer_inputs=["later-data"])
    assert launch.exit_code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "-> deferred: the job resolves and pins it when it runs" in out
    assert run_stage(typed_recipe, "train", ["-c", "chained", "-d"]) == 2
    assert "later-data" in capsys.readouterr().err
