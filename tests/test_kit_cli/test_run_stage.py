"""The one stage runner end to end: dry run, a real local subprocess run, failure, rerun."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit_cli import run_stage
from kit_cli._app import build_app
from kit_cli._discovery import RecipeEntry
from kit_cli._launches import list_launches
from test_kit_cli.conftest import subprocess_env

runner = CliRunner()


@pytest.fixture(autouse=True)
def child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the stage subprocess an absolute PYTHONPATH (tests run from a tmp cwd)."""
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])


def _outputs(home: Path, run_id: str) -> Path:
    return home / "demo-out" / run_id


def test_dry_run_writes_and_runs_nothing(demo_recipe, isolated_home, capsys):
    """-d prints the composed config with overrides and the command, and writes nothing."""
    code = run_stage(demo_recipe, "train", ["train.lr=0.5", "-c", "tiny", "-d", "+api_key=s3cr3t"])
    out = capsys.readouterr().out
    assert code == 0
    assert "lr: 0.5" in out and "tiny-result" in out
    assert "s3cr3t" not in out
    assert "-m test_kit_cli.demo_stage --config" in out
    assert not isolated_home.exists() or not any(isolated_home.rglob("*.json"))


def test_local_run_passes_config_and_tail(demo_recipe, isolated_home):
    """A local run executes the stage module with the resolved config and the `--` tail."""
    code = run_stage(demo_recipe, "train", ["-c", "tiny", "train.steps=5", "--", "--echo", "hi"])
    assert code == 0
    (record,) = list_launches()
    assert record.status == "succeeded" and record.exit_code == 0
    out = _outputs(isolated_home, record.run_id)
    assert json.loads((out / "config.json").read_text())["train"] == {"lr": 0.01, "steps": 5}
    assert (out / "echo.txt").read_text() == "hi"
    assert (record.directory / "provenance").is_dir()


def test_failed_stage_exits_1(demo_recipe, capsys):
    """A stage that exits non-zero makes the CLI exit 1 with a one-line message."""
    code = run_stage(demo_recipe, "train", ["--", "--fail"])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed" in err and "exit code 3" in err
    assert list_launches()[0].status == "failed"


def test_rerun_reproduces_config(demo_recipe, isolated_home):
    """`nemotron rerun RUN_ID` recomposes the same config and runs it again."""
    app = build_app([RecipeEntry("demo", "t:R", "test", recipe=demo_recipe)])
    first = runner.invoke(app, ["demo", "train", "-c", "tiny", "train.lr=0.3"])
    assert first.exit_code == 0, first.output
    (original,) = list_launches()
    from unittest import mock

    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        result = runner.invoke(app, ["rerun", original.run_id, "--allow-code-change"])
    assert result.exit_code == 0, result.output
    again = next(r for r in list_launches() if r.run_id != original.run_id)
    assert again.rerun_of == original.run_id
    config = json.loads((_outputs(isolated_home, again.run_id) / "config.json").read_text())
    assert config["train"] == {"lr": 0.3, "steps": 1}


def test_rerun_detects_changed_config(demo_recipe):
    """If recomposing no longer gives the recorded config, rerun shows a diff and exits 2."""
    assert run_stage(demo_recipe, "train", ["-c", "tiny"]) == 0
    (original,) = list_launches()
    recorded = original.directory / "config.yaml"
    recorded.write_text(recorded.read_text().replace("0.01", "9.0"))
    from unittest import mock

    app = build_app([RecipeEntry("demo", "t:R", "test", recipe=demo_recipe)])
    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        result = runner.invoke(app, ["rerun", original.run_id, "--allow-code-change"])
    assert result.exit_code == 2
    assert "differs from the recorded" in result.output
    assert "-    lr: 9.0" in result.output or "lr: 9.0" in result.output
    assert len(list_launches()) == 1
