"""`job_pex`: a stage's PEX from a file, `NEMOTRON_JOB_PEX`, or a Pants address (not built here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kit_cli._jobcode import build_root, is_pants_address, job_pex, pex_for_address, planned_job_pex
from kit_cli.errors import CliError, JobCodeError
from kit_cli.recipe import Stage


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("recipes/nano3:pretrain-job", "dist/recipes.nano3/pretrain-job.pex",
                     id="nested"),
        pytest.param("tools:cli", "dist/tools/cli.pex", id="one-level"),
        pytest.param("//:tool", "dist/tool.pex", id="root"),
        pytest.param("a/b/c", "dist/a.b.c/c.pex", id="implicit-name"),
    ],
)
def test_address_to_dist_path(address: str, expected: str):
    """Pants writes `dist/<spec path with / -> .>/<name>.pex`."""
    assert pex_for_address(address).as_posix() == expected


@pytest.mark.parametrize(
    ("target", "is_address"),
    [
        pytest.param("recipes/nano3:pretrain-job", True, id="address"),
        pytest.param("dist/x.pex", False, id="pex-path"),
        pytest.param("/abs/job.pex", False, id="absolute-pex"),
    ],
)
def test_address_or_path(target: str, is_address: bool):
    """A `path:name` target is an address; a `.pex` file is a path."""
    assert is_pants_address(target) is is_address


def test_build_root_walks_up(tmp_path: Path):
    """The build root is the nearest parent holding pants.toml."""
    (tmp_path / "pants.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert build_root(deep) == tmp_path


def test_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """NEMOTRON_JOB_PEX replaces any job_target, and nothing is built."""
    pex = tmp_path / "built.pex"
    pex.write_text("#!/bin/sh\n")
    monkeypatch.setenv("NEMOTRON_JOB_PEX", str(pex))
    stage = Stage("s", "m", job_target="recipes/nano3:pretrain-job")
    assert job_pex(stage) == pex.resolve()


def test_pex_path_target(tmp_path: Path):
    """A job_target that is an existing file is shipped as is; no target means no PEX."""
    pex = tmp_path / "job.pex"
    pex.write_text("")
    assert job_pex(Stage("s", "m", job_target=str(pex))) == pex.resolve()
    assert job_pex(Stage("s", "m")) is None


def test_planned_pex_of_an_address_builds_nothing(tmp_path: Path, monkeypatch):
    """Dry runs get the dist path and the address that would build it."""
    (tmp_path / "pants.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    path, address = planned_job_pex(Stage("s", "m", job_target="recipes/nano3:rl-job"))
    assert path == tmp_path / "dist/recipes.nano3/rl-job.pex" and address == "recipes/nano3:rl-job"
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    ("target", "env_pex", "with_root", "message"),
    [
        pytest.param("missing.pex", None, False, "the PEX file does not exist", id="pex-missing"),
        pytest.param("x:y", "/no/such.pex", False, "NEMOTRON_JOB_PEX names no file",
                     id="env-pex-missing"),
        pytest.param("recipes/nano3:pretrain-job", None, False, "no Pants build root",
                     id="no-build-root"),
        pytest.param("recipes/nano3:pretrain-job", None, True, "./pants package exited 1",
                     id="pants-fails"),
    ],
)
def test_no_pex_is_a_clear_error(tmp_path, monkeypatch, target, env_pex, with_root, message):
    """Each way of getting no PEX raises JobCodeError naming the stage, target and fix."""
    monkeypatch.chdir(tmp_path)
    if env_pex:
        monkeypatch.setenv("NEMOTRON_JOB_PEX", env_pex)
    else:
        monkeypatch.delenv("NEMOTRON_JOB_PEX", raising=False)
    if with_root:  # a stand-in ./pants that fails like a broken build
        (tmp_path / "pants.toml").write_text("")
        script = tmp_path / "pants"
        script.write_text("#!/bin/sh\necho \"PANTS_CONCURRENT=$PANTS_CONCURRENT $*\" >&2\nexit 1\n")
        script.chmod(0o755)
    with pytest.raises(JobCodeError) as caught:
        job_pex(Stage("train", "m", job_target=target))
    assert isinstance(caught.value, CliError) and isinstance(caught.value, FileNotFoundError)
    text = str(caught.value)
    assert message in text and "'train'" in text and "\n" not in text
    if with_root:
        assert "PANTS_CONCURRENT=True package recipes/nano3:pretrain-job" in text
