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


def test_local_run_passes_the_config(demo_recipe, isolated_home):
    """A local run executes the stage module with the composed config (overrides in it)."""
    code = run_stage(demo_recipe, "train", ["-c", "tiny", "train.steps=5", "+echo=hi"])
    assert code == 0
    (record,) = list_launches()
    assert record.status == "succeeded" and record.exit_code == 0
    out = _outputs(isolated_home, record.run_id)
    assert json.loads((out / "config.json").read_text())["train"] == {"lr": 0.01, "steps": 5}
    assert (out / "echo.txt").read_text() == "hi"
    assert (record.directory / "provenance").is_dir()


def test_failed_stage_exits_1(demo_recipe, capsys):
    """A stage that exits non-zero makes the CLI exit 1 with a one-line message."""
    code = run_stage(demo_recipe, "train", ["+fail=true"])
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


def test_rerun_pins_the_recorded_version_not_latest(demo_recipe, config_dir, publish_data,
                                                    isolated_home):
    """A rerun resolves the input version the run used, though a newer one was published."""
    (config_dir / "lineage.yaml").write_text("data: ${art:demo-data,path}\npublish: demo-model\n")
    first = publish_data(text="v1")
    assert run_stage(demo_recipe, "train", ["-c", "lineage"]) == 0
    (original,) = list_launches()
    publish_data(text="v2")
    from unittest import mock

    from kit_cli._rerun import rerun

    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        assert rerun(original.run_id, allow_code_change=True) == 0
    again = next(r for r in list_launches() if r.run_id != original.run_id)
    assert again.pins == original.pins == {"art://demo-data": first}
    assert (again.directory / "config.yaml").read_text() == \
        (original.directory / "config.yaml").read_text()
    from kit_artifacts import get_registry

    assert get_registry().record("art://demo-model:v2").inputs == (first,)


def test_rerun_of_deferred_input_uses_the_version_the_job_resolved(
        demo_recipe, config_dir, publish_data):
    """A deferred input is pinned on rerun to what the original job's tracker recorded."""
    from kit_cli._runner import run_stage_job

    (config_dir / "lineage.yaml").write_text("data: ${art:demo-data,path}\n")
    used = publish_data(text="v1")
    launch = run_stage_job(demo_recipe, "train", ["-c", "lineage"], defer_inputs=["demo-data"])
    assert launch.ok
    publish_data(text="v2")
    from unittest import mock

    from kit_cli._rerun import rerun

    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        assert rerun(str(launch.run_id), allow_code_change=True) == 0
    again = next(r for r in list_launches() if r.rerun_of == launch.run_id)
    assert again.pins == {"art://demo-data": used}


def test_rerun_of_deferred_input_without_tracker_record_stops(demo_recipe, config_dir,
                                                              publish_data, capsys):
    """If the job never recorded which version it resolved, rerun refuses (exit 2)."""
    (config_dir / "lineage.yaml").write_text("data: ${art:demo-data,path}\n")
    publish_data()
    from kit_cli._runner import run_stage_job

    launch = run_stage_job(demo_recipe, "train", ["-c", "lineage"], defer_inputs=["demo-data"])
    import shutil

    shutil.rmtree(Path(str(launch.launch_dir)).parent.parent / "runs" / str(launch.run_id))
    app = build_app([RecipeEntry("demo", "t:R", "test", recipe=demo_recipe)])
    from unittest import mock

    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        result = runner.invoke(app, ["rerun", str(launch.run_id), "--allow-code-change"])
    assert result.exit_code == 2 and "recorded no version" in result.stderr
