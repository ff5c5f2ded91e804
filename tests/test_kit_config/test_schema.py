"""`compose(..., schema=Cls)` and the `__kit_validate__` hook of `structure()`."""
from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from kit_config import compose, structure
from kit_config.errors import ConfigProblem, ConfigValidationError, OverrideError


@attrs.frozen
class Opt:
    lr: float = 1e-3
    min_lr: float = 0.0

    def __kit_validate__(self) -> list[ConfigProblem]:
        out = [ConfigProblem("lr", "must be > 0")] if self.lr <= 0 else []
        if 0 < self.lr < self.min_lr:
            out.append(ConfigProblem("min_lr", "must be <= lr"))
        return out


@attrs.frozen
class Trainer:
    steps: int = 10
    resume: bool = True

    def __kit_validate__(self) -> list[ConfigProblem]:
        return [ConfigProblem("steps", "must be > 0")] if self.steps <= 0 else []


@attrs.frozen
class Cfg:
    data: str
    opt: Opt = attrs.Factory(Opt)
    trainer: Trainer = attrs.Factory(Trainer)
    extra: dict[str, int] = attrs.Factory(dict)

    def __kit_validate__(self) -> list[ConfigProblem]:
        return [ConfigProblem("data", "must not be empty")] if not self.data else []


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("data: d\nopt:\n  lr: 0.5\n")
    return path


def _problems(file: Path, overrides: list[str]) -> list[tuple[str, str | None]]:
    with pytest.raises(ConfigValidationError) as info:
        structure(compose(file, overrides, schema=Cfg), Cfg)
    return [(p.path, p.message) for p in info.value.problems]


def test_schema_keys_are_settable_without_plus(file: Path) -> None:
    cfg = structure(compose(file, ["trainer.resume=false", "opt.min_lr=0.1"], schema=Cfg), Cfg)
    assert cfg.trainer.resume is False
    assert cfg.opt == Opt(lr=0.5, min_lr=0.1)  # the file's lr layered over the default


def test_file_lines_survive_the_schema_layer(file: Path) -> None:
    with pytest.raises(ConfigValidationError) as info:
        structure(compose(file, ["opt.min_lr=0.9"], schema=Cfg), Cfg)
    (problem,) = info.value.problems
    assert (problem.path, problem.file) == ("opt.min_lr", "override 'opt.min_lr=0.9'")


@pytest.mark.parametrize(("overrides", "expected"), [
    pytest.param(["opt.lr=-1"], [("opt.lr", "must be > 0")], id="nested-hook"),
    pytest.param(["data=''"], [("data", "must not be empty")], id="top-hook"),
    pytest.param(["opt.lr=-1", "trainer.steps=0"],
                 [("opt.lr", "must be > 0"), ("trainer.steps", "must be > 0")],
                 id="two-hooks"),
    pytest.param(["opt.lr=abc", "trainer.steps=0"],
                 [("opt.lr", "expected float, got 'abc'"), ("trainer.steps", "must be > 0")],
                 id="type-and-semantic-together"),
    pytest.param(["+opt.lrr=1"], [("opt.lrr", "unknown key 'lrr' (did you mean 'lr'?)")],
                 id="added-unknown-key"),
])
def test_type_and_semantic_problems_in_one_error(file: Path, overrides: list[str],
                                                 expected: list[tuple[str, str]]) -> None:
    assert _problems(file, overrides) == expected


def test_semantic_problem_names_its_file_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: d\nopt:\n  lr: -2\n")
    with pytest.raises(ConfigValidationError) as info:
        structure(compose(path, (), schema=Cfg), Cfg)
    (problem,) = info.value.problems
    assert (problem.path, problem.file, problem.line) == ("opt.lr", str(path), 3)


def test_unknown_key_suggestion_is_accepted(file: Path) -> None:
    """The did-you-mean hint is a command line that works, not `+KEY` that would be refused."""
    with pytest.raises(OverrideError) as info:
        compose(file, ["trainer.resum=false"], schema=Cfg)
    hint = str(info.value.hint)
    assert "+" not in hint
    fixed = hint.removeprefix("write ")
    assert fixed == "trainer.resume=false"
    assert structure(compose(file, [fixed], schema=Cfg), Cfg).trainer.resume is False


def test_without_schema_the_plus_hint_stays(file: Path) -> None:
    with pytest.raises(OverrideError) as info:
        compose(file, ["trainer.resume=false"])
    assert "+trainer.resume=false" in str(info.value)
    assert compose(file, ["+trainer.resume=false"]).trainer.resume is False
