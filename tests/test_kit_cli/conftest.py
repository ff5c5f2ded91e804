"""Shared fixtures: isolated NEMOTRON_HOME, no stray env.toml, and a tiny demo recipe."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kit_artifacts import hooks
from kit_cli.recipe import Recipe, Stage

DEMO_STAGE_MODULE = "test_kit_cli.demo_stage"


# Resolved now, before any test changes directory: under Pants, sys.path holds the sandbox's
# source roots as paths relative to the sandbox (PEX_EXTRA_SYS_PATH).
_SYS_PATH = [str(Path(p).resolve()) for p in sys.path if p]


def subprocess_env(*extra_paths: str | Path, **env: str) -> dict[str, str]:
    """The inherited environment plus this interpreter's sys.path as absolute PYTHONPATH.

    Tests chdir into tmp dirs, so a relative PYTHONPATH entry would break in the child.
    """
    paths = [str(p) for p in extra_paths] + _SYS_PATH
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all kit state at a tmp dir and make the cwd a folder without env.toml."""
    home = tmp_path / "nemotron-home"
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    monkeypatch.delenv("NEMOTRON_RECIPES", raising=False)
    monkeypatch.delenv("NEMOTRON_DEBUG", raising=False)
    for name in (*hooks.CODE_ENV, "PEX"):
        monkeypatch.delenv(name, raising=False)
    hooks._reset_implicit_run()
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(tmp_path / "no-env.toml"))
    work = tmp_path / "cwd"
    work.mkdir()
    # The cwd is a git checkout: where the tests' own files are not in git (Pants' sandbox),
    # the launcher finds this one, as under `pants run` (see `launch_commit`).
    for args in (["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
                                   "--allow-empty", "-m", "launch checkout"]):
        subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True)
    monkeypatch.chdir(work)
    return home


@pytest.fixture()
def launch_commit(isolated_home: Path) -> str:
    """The commit a launch of the demo stage records: its module's checkout, else the cwd's."""
    import importlib.util

    from kit_cli._launches import code_version

    spec = importlib.util.find_spec("test_kit_cli.demo_stage")
    commit = code_version(spec.origin if spec else None)[0]
    assert commit, "no git checkout found for the launch"
    return commit


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
        (
            Stage("train", DEMO_STAGE_MODULE, "Train the demo.", config_dir, inputs=("demo-data",)),
            Stage("prep", DEMO_STAGE_MODULE, "Prepare demo data.", config_dir, group=("data",)),
        ),
    )


SERVICES_DIR = Path(os.environ.get("KIT_SERVICES_DIR", "/tmp/kit-services"))


def read_service_env(name: str, script: str) -> dict[str, str]:
    """KEY=VALUE lines of a service env file; skips (SERVICE-MISSING) when it is absent."""
    path = SERVICES_DIR / name
    if not path.is_file():
        pytest.skip(f"SERVICE-MISSING: {path} not found; start it with .ci/services/{script}")
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture()
def publish_data(tmp_path: Path) -> Callable[..., str]:
    """Publish a small data folder into the tmp registry; returns its pinned URI."""
    from kit_artifacts import Artifact

    def publish(name: str = "demo-data", text: str = "hello\n") -> str:
        folder = tmp_path / "data" / f"{name}-{len(list(tmp_path.glob('data/*')))}"
        folder.mkdir(parents=True)
        (folder / "part-0.txt").write_text(text)
        return Artifact(path=str(folder)).save(name).uri

    return publish


@pytest.fixture()
def stage_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Give stage subprocesses (and Slurm jobs) an absolute PYTHONPATH to the kit sources."""
    env = subprocess_env()
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    return env


@pytest.fixture()
def slurm_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   isolated_home: Path, stage_env: dict[str, str]) -> Path:
    """env.toml with a local-tunnel Slurm profile `slurm` on the real local Slurm."""
    slurm = read_service_env("slurm.env", "slurm-up")
    bindir = Path(sys.executable).parent
    path = tmp_path / "env.toml"
    path.write_text(
        f'[slurm]\nexecutor = "slurm"\naccount = "{slurm["NEMOTRON_SLURM_ACCOUNT"]}"\n'
        f'partition = "{slurm["NEMOTRON_SLURM_PARTITION"]}"\ntime = "00:05:00"\n'
        f'setup_lines = ["export PATH={bindir}:$PATH"]\n'
        f'[slurm.env_vars]\nPYTHONPATH = "{stage_env["PYTHONPATH"]}"\n'
        f'NEMOTRON_HOME = "{isolated_home}"\n'
    )
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(path))
    return path
