"""The Typer app: help panels, broken groups, exit codes, and the fast-start guarantee."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit_cli._app import build_app
from kit_cli._discovery import RecipeEntry
from kit_cli.recipe import Recipe
from test_kit_cli.conftest import subprocess_env

runner = CliRunner()


def _app(recipe: Recipe, *broken: RecipeEntry):
    return build_app([RecipeEntry(recipe.name, "t:RECIPE", "test", recipe=recipe), *broken])


def test_top_help_lists_recipes_and_broken(demo_recipe):
    """`nemotron --help` shows working recipes, broken ones with the reason, and kit commands."""
    broken = RecipeEntry("oops", "oops.recipe:R", "entry point x", error="ImportError: no torch")
    result = runner.invoke(_app(demo_recipe, broken), ["--help"])
    assert result.exit_code == 0
    for text in ("demo", "oops", "BROKEN", "ImportError: no torch", "art", "rerun", "runs"):
        assert text in result.output


def test_broken_recipe_command_exits_2(demo_recipe):
    """Invoking a broken recipe prints its load failure on one line and exits 2."""
    broken = RecipeEntry("oops", "oops.recipe:R", "entry point x", error="ImportError: no torch")
    result = runner.invoke(_app(demo_recipe, broken), ["oops", "pretrain", "-c", "tiny"])
    assert result.exit_code == 2
    assert "ImportError: no torch" in result.output
    assert "Traceback" not in result.output


def test_stage_help_panels(demo_recipe, tmp_path, monkeypatch):
    """Stage help shows global options, built-in configs, profiles, inputs and examples."""
    env = tmp_path / "env.toml"
    env.write_text('[wandb]\nproject = "p"\n[my-cluster]\nexecutor = "slurm"\npartition = "b"\n')
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env))
    result = runner.invoke(_app(demo_recipe), ["demo", "train", "--help"])
    assert result.exit_code == 0
    for text in ("--config", "--run", "--batch", "--dry-run", "tiny", "default", "my-cluster",
                 "demo-data", "Run overrides", "Examples"):
        assert text in result.output
    assert "wandb" not in result.output.split("Profiles")[1].split("Artifact")[0]


def test_grouped_stage_is_nested(demo_recipe):
    """A stage with group=("data",) is reached as `nemotron demo data prep`."""
    result = runner.invoke(_app(demo_recipe), ["demo", "data", "prep", "--help"])
    assert result.exit_code == 0
    assert "Prepare demo data." in result.output


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["demo", "train", "-c", "huge"], "config 'huge'", id="unknown-config"),
        pytest.param(["demo", "train", "notanoverride"], "not an override", id="bad-override"),
        pytest.param(["demo", "train", "-r", "a", "-b", "b"], "exclude", id="run-and-batch"),
        pytest.param(["demo", "train", "--bogus"], "unknown option", id="unknown-option"),
    ],
)
def test_stage_usage_errors_exit_2(demo_recipe, argv, fragment):
    """Bad stage command lines exit 2 with a one-line message and no traceback."""
    result = runner.invoke(_app(demo_recipe), argv)
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_runs_show_unknown_exits_2(demo_recipe):
    """`nemotron runs show` of an unknown run id exits 2 naming the id."""
    result = runner.invoke(_app(demo_recipe), ["runs", "show", "20990101-000000-abcdef"])
    assert result.exit_code == 2
    assert "20990101-000000-abcdef" in result.output


def test_completion_of_profiles_and_configs(demo_recipe, tmp_path, monkeypatch):
    """Shell completion offers env.toml profile names and the stage's config names."""
    from kit_cli._app import complete_config
    from kit_cli._app_shared import complete_profile

    env = tmp_path / "env.toml"
    env.write_text("[cli]\n[alpha]\nexecutor='local'\n[beta]\nextends='alpha'\n")
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env))
    assert complete_profile("") == ["alpha", "beta"]
    assert complete_profile("b") == ["beta"]

    class Ctx:
        command = type("C", (), {"stage": demo_recipe.stage("train")})

    assert complete_config(Ctx(), "t") == ["tiny"]  # type: ignore[arg-type]


FAST_START = """
import sys
sys.argv = ["nemotron", *sys.argv[1:]]
from kit_cli.main import main
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("nemo_run", "wandb", "torch", "mlflow") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--help"], id="top-help"),
        pytest.param(["demo", "--help"], id="recipe-help"),
        pytest.param(["demo", "train", "--help"], id="stage-help"),
    ],
)
def test_fast_start_imports_no_heavy_modules(argv, tmp_path):
    """Help paths import none of nemo_run, wandb, torch or mlflow (checked in a subprocess)."""
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "fast_demo.py").write_text(
        "from kit_cli.recipe import Recipe, Stage\n"
        f"RECIPE = Recipe('demo', 'Demo.', [Stage('train', 'json.tool', 'T', {str(tmp_path)!r})])\n"
    )
    env = subprocess_env(mods, NEMOTRON_RECIPES="fast_demo:RECIPE")
    proc = subprocess.run([sys.executable, "-c", FAST_START, *argv], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert "HEAVY=\n" in proc.stdout, proc.stdout + proc.stderr
    assert "Usage" in proc.stdout


def test_launch_record_round_trip(isolated_home: Path):
    """A saved launch record loads back equal, and list_launches finds it."""
    from kit_cli._launches import LaunchRecord, list_launches, load_launch, save_launch
    from kit_config import new_run_id

    record = LaunchRecord(
        run_id=new_run_id(), recipe="demo", stage="train", module="m", argv=["-c", "x"],
        overrides=["a=1"], config_source=None, profile=None, mode="local",
        pins={"art://d": "art://d:v1"}, inputs=[], git_commit=None, git_dirty=None,
        created_at="2026-01-01T00:00:00+00:00",
    )
    save_launch(record)
    assert load_launch(record.run_id) == record
    assert [r.run_id for r in list_launches()] == [record.run_id]
    data = json.loads((record.directory / "launch.json").read_text())
    assert data["pins"] == {"art://d": "art://d:v1"}
