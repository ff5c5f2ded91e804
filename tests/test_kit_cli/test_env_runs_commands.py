"""`nemotron env ...` against real kit-run profiles and `nemotron runs ...` against kit-track."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit_cli._app import build_app

runner = CliRunner()

ENV_TOML = """
[wandb]
project = "demo"

[base]
executor = "slurm"
account = "kit"
partition = "debug"

[big]
extends = "base"
nodes = 4
[big.env_vars]
MODE = "big"

[here]
executor = "local"
"""


@pytest.fixture()
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid env.toml with three profiles and a reserved table."""
    path = tmp_path / "env.toml"
    path.write_text(ENV_TOML)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(path))
    return path


def test_env_ls_lists_profiles_not_reserved_tables(env_file):
    """`env ls` lists every profile with its executor and no reserved table."""
    result = runner.invoke(build_app([]), ["env", "ls"])
    assert result.exit_code == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["base", "big", "here"]
    assert "extends base" in result.stdout


def test_env_show_applies_extends(env_file):
    """`env show` prints the profile after `extends`: inherited keys and its own."""
    result = runner.invoke(build_app([]), ["env", "show", "big"])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["executor"] == "slurm" and shown["chain"] == ["big", "base"]
    assert shown["settings"]["account"] == "kit" and shown["settings"]["nodes"] == 4


def test_env_check_ok(env_file):
    """`env check` validates every profile and the executor's install (nemo-run here)."""
    result = runner.invoke(build_app([]), ["env", "check"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["ok\tbase\tslurm", "ok\tbig\tslurm", "ok\there\tlocal"]


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        pytest.param('[p]\nexecutor = "slurm"\npartiton = "x"\naccount = "a"\n',
                     ["env", "check"], "partiton", id="misspelt-key"),
        pytest.param('[p]\nexecutor = "slurm"\n', ["env", "check", "p"], "account",
                     id="missing-required-key"),
        pytest.param('[p]\nextends = "q"\n[q]\nextends = "p"\n', ["env", "check"], "p",
                     id="extends-cycle"),
        pytest.param(ENV_TOML, ["env", "show", "nope"], "nope", id="unknown-profile"),
        pytest.param(ENV_TOML, ["env", "show", "wandb"], "reserved", id="reserved-table"),
        pytest.param("[p\n", ["env", "ls"], "env.toml", id="toml-syntax-error"),
    ],
)
def test_env_bad_input_exits_2(tmp_path, monkeypatch, text, argv, message):
    """A bad env.toml or profile name exits 2 naming the profile/key, without a traceback."""
    path = tmp_path / "env.toml"
    path.write_text(text)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(path))
    result = runner.invoke(build_app([]), argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_env_without_file_exits_2(monkeypatch, tmp_path):
    """With no env.toml at all, `env ls` says where it looked and exits 2."""
    monkeypatch.delenv("NEMOTRON_ENV_FILE")
    result = runner.invoke(build_app([]), ["env", "show", "x"])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


def _tracked_run(stage: str, publish: str | None = None) -> str:
    """Record a run with kit-track's real FileTracker, as a stage started without the CLI."""
    from kit_track import start_run

    with start_run(stage=stage, config={"lr": 0.1}) as run:
        if publish:
            from kit_artifacts import Artifact

            folder = Path(run.run_dir or ".") / "out"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "x.txt").write_text("x")
            Artifact(path=str(folder)).save(publish)
    return run.run_id


def test_runs_ls_and_show_read_file_tracker_records():
    """A run recorded only by kit-track is listed as `direct` and shown with its outputs."""
    run_id = _tracked_run("direct-stage", publish="direct-out")
    app = build_app([])
    listed = runner.invoke(app, ["runs", "ls"])
    assert listed.exit_code == 0, listed.stderr
    assert f"{run_id}\tdirect-stage\tdirect\tsucceeded\t\tart://direct-out:v1" in listed.stdout
    shown = runner.invoke(app, ["runs", "show", run_id])
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["launch"] is None and data["tracker"]["config"] == {"lr": 0.1}
    assert data["tracker"]["outputs"][0]["uri"] == "art://direct-out:v1"


@pytest.mark.parametrize("run_id", [
    pytest.param("20990101-000000-abcdef", id="unknown-run"),
    pytest.param("../etc", id="path-escape"),
])
def test_runs_show_unknown_exits_2(run_id):
    """`runs show` of a run nobody recorded exits 2 pointing at `runs ls`."""
    result = runner.invoke(build_app([]), ["runs", "show", run_id])
    assert result.exit_code == 2 and "nemotron runs ls" in result.stderr
