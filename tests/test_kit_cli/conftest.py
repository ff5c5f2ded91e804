"""Shared fixtures: isolated NEMOTRON_HOME, no stray env.toml, and a tiny demo recipe."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kit_cli.recipe import Recipe, Stage

DEMO_STAGE_MODULE = "test_kit_cli.demo_stage"


def subprocess_env(*extra_paths: str | Path, **env: str) -> dict[str, str]:
    """The inherited environment plus this interpreter's sys.path as absolute PYTHONPATH.

    Tests chdir into tmp dirs, so a relative PYTHONPATH entry would break in the child.
    """
    paths = [str(p) for p in extra_paths] + [str(Path(p).resolve()) for p in sys.path if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all kit state at a tmp dir and make the cwd a folder without env.toml."""
    home = tmp_path / "nemotron-home"
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    monkeypatch.delenv("NEMOTRON_RECIPES", raising=False)
    monkeypatch.delenv("NEMOTRON_DEBUG", raising=False)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(tmp_path / "no-env.toml"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    """A stage config folder with `default` and `tiny` configs."""
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "default.yaml").write_text("train:\n  lr: 0.1\n  steps: 2\nout: result\n")
    (folder / "tiny.yaml").write_text("train:\n  lr: 0.01\n  steps: 1\nout: tiny-result\n")
    return folder


@pytest.fixture()
def demo_recipe(config_dir: Path) -> Recipe:
    """A two-stage recipe whose stages run `test_kit_cli.demo_stage`."""
    return Recipe(
        "demo",
        "A tiny demo recipe.",
        [
            Stage("train", DEMO_STAGE_MODULE, "Train the demo.", config_dir, inputs=("demo-data",)),
            Stage("prep", DEMO_STAGE_MODULE, "Prepare demo data.", config_dir, group=("data",)),
        ],
    )
