"""`--dry-run` / `--dry-run-out`: the pinned plan, nothing submitted, no heavy imports."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kit_cli import run_stage
from test_kit_cli.conftest import subprocess_env

DRY_RUN = """
import sys
from kit_cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("nemo_run", "wandb", "torch", "mlflow") if m in sys.modules)
print("HEAVY=" + ",".join(heavy) + f" CODE={code}")
"""


@pytest.fixture()
def dry_recipe_module(tmp_path: Path, config_dir: Path) -> Path:
    """A recipe module whose stage reads `${art:demo-data,path}` and ships a Pants-built PEX."""
    (config_dir / "lineage.yaml").write_text("data: ${art:demo-data,path}\napi_key: s3cr3t\n")
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "dry_demo.py").write_text(
        "from kit_cli.recipe import Recipe, Stage\n"
        "RECIPE = Recipe('demo', 'Demo.', [Stage('train', 'test_kit_cli.demo_stage', 'T', "
        f"{str(config_dir)!r}, job_target='recipes/demo:train-job')])\n"
    )
    return mods


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="local"),
        pytest.param(["--batch", "cluster"], id="batch-slurm-profile"),
    ],
)
def test_dry_run_imports_nothing_heavy_and_writes_only_the_report(
        extra, dry_recipe_module, publish_data, tmp_path, isolated_home):
    """A dry run (local or for a Slurm profile) imports no nemo_run/wandb/torch/mlflow,
    prints the pinned plan with secrets masked, and writes only the --dry-run-out file."""
    data = publish_data()
    env_toml = tmp_path / "env.toml"
    env_toml.write_text('[cluster]\nexecutor = "slurm"\naccount = "kit"\npartition = "debug"\n')
    report = tmp_path / "out" / "plan.txt"
    before = sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*"))
    env = subprocess_env(dry_recipe_module, NEMOTRON_RECIPES="dry_demo:RECIPE",
                         NEMOTRON_ENV_FILE=str(env_toml), WANDB_API_KEY="wandb-secret-value")
    argv = ["demo", "train", "-c", "lineage", "--dry-run-out", str(report), *extra]
    proc = subprocess.run([sys.executable, "-c", DRY_RUN, *argv], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert "HEAVY= CODE=0" in proc.stdout, proc.stdout + proc.stderr
    text = report.read_text()
    assert text in proc.stdout
    assert f"data: ${{art:{data.removeprefix('art://')},path}}" in text
    assert f"art://demo-data -> {data} [Artifact]" in text
    assert "s3cr3t" not in text and "wandb-secret-value" not in text
    assert sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*")) == before
    if extra:
        assert "#SBATCH" in text and "--partition=debug" in text.replace(" ", "=")
        assert "dist/recipes.demo/train-job.pex --config config.yaml" in text
        assert "./pants package recipes/demo:train-job" in text
        assert "WANDB_API_KEY=" in text  # the secret's name is shown, never its value
        # The job gets the launch's commit; the digest is the PEX's, known once it is built.
        assert "# code: " in text and "digest (when built) of pex:" in text
        assert "export NEMOTRON_GIT_COMMIT=" in text and "NEMOTRON_CODE_DIGEST" not in text
    else:
        assert " digest sha256:" in text
        assert "-m test_kit_cli.demo_stage --config <launch dir>/config.yaml" in text


def test_dry_run_out_bad_folder_is_input_error(demo_recipe, tmp_path, capsys):
    """A --dry-run-out path that cannot be written exits 2 and leaves no partial file."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = run_stage(demo_recipe, "train", ["--dry-run-out", str(blocker / "plan.txt")])
    assert code == 2
    assert not (blocker / "plan.txt").exists()
    err = capsys.readouterr().err
    assert "cannot write the dry-run report" in err and "Traceback" not in err


def test_after_without_profile_is_a_usage_error(demo_recipe, capsys):
    """Waiting on jobs needs a profile: a local run with `after` exits 2 and says so."""
    from kit_cli._runner import run_stage_job

    launch = run_stage_job(demo_recipe, "train", [], after=["123"])
    assert launch.exit_code == 2 and launch.job_id is None
    assert "--batch PROFILE" in capsys.readouterr().err
