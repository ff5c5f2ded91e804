"""Stages submitted through real kit-run to the real local Slurm, and the job commands.

Skips with `SERVICE-MISSING:` when `.ci/services/slurm-up` has not run. Each job is the
demo stage: a kit-track run that resolves `${art:...}` and publishes into the registry root
the submitter shares with the job (so lineage data -> run -> model is visible here).
"""
from __future__ import annotations

import hashlib
import json
import sys
import zipapp
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit_cli._app import build_app
from kit_cli._discovery import RecipeEntry
from kit_cli._launches import load_launch
from kit_cli._runner import run_stage_job
from kit_cli.recipe import Recipe

runner = CliRunner()

LINEAGE_CONFIG = "data: ${art:demo-data,path}\npublish: demo-model\ntrain:\n  lr: 0.1\n"


@pytest.fixture()
def lineage_recipe(demo_recipe: Recipe, config_dir: Path) -> Recipe:
    """The demo recipe with a `lineage` config: reads demo-data, publishes demo-model."""
    (config_dir / "lineage.yaml").write_text(LINEAGE_CONFIG)
    return demo_recipe


def _app(recipe: Recipe):
    return build_app([RecipeEntry("demo", "t:R", "test", recipe=recipe)])


def _wait(job_id: str) -> str:
    from kit_run import wait_for_job

    return wait_for_job(job_id, timeout=180, poll_interval=0.5).state


def test_batch_prints_job_and_follow_commands_then_lineage(
        lineage_recipe, slurm_env_file, publish_data):
    """`--batch` submits, prints the job id and job commands; the job's model has lineage."""
    data = publish_data()
    app = _app(lineage_recipe)
    result = runner.invoke(app, ["demo", "train", "-c", "lineage", "--batch", "slurm"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("submitted job ") and "(Slurm job " in first
    job_id = first.split()[2]
    for verb in ("status", "logs", "cancel"):
        assert f"nemotron job {verb} {job_id}" in result.stdout
    assert _wait(job_id) == "SUCCEEDED"

    status = runner.invoke(app, ["job", "status", job_id])
    assert status.exit_code == 0 and json.loads(status.stdout)["state"] == "SUCCEEDED"
    assert job_id in runner.invoke(app, ["job", "ls", "--status"]).stdout
    run_id = next(p.name for p in (slurm_env_file.parent / "nemotron-home" / "launches").iterdir())
    launch = load_launch(run_id)
    assert launch.job_id == job_id and launch.pins == {"art://demo-data": data}

    from kit_artifacts import get_registry

    record = get_registry().record("art://demo-model:latest")
    assert record.inputs == (data,) and record.producer.run_id == run_id
    tree = runner.invoke(app, ["art", "lineage", "demo-model"]).stdout.splitlines()
    assert tree[0].startswith("demo-model:v1") and tree[1].startswith(f"└── run {run_id}")
    assert tree[2].startswith("    └── demo-data:v1")

    _assert_same_code(launch, record.producer, run_id)

    runs = runner.invoke(app, ["runs", "ls"])
    assert f"{run_id}\tdemo train\tbatch:slurm\tsucceeded\t{job_id}\tart://demo-model:v1" \
        in runs.stdout
    shown = runner.invoke(app, ["runs", "show", run_id])
    tracker = json.loads(shown.stdout.split("\n# ", 1)[0])["tracker"]
    assert tracker["status"] == "succeeded" and tracker["inputs"][0]["uri"] == data


def _assert_same_code(launch, producer, run_id: str, digest: str | None = None) -> None:
    """Launch record, the job's run record and the producer name the launching code."""
    import importlib.util

    from kit_cli._launches import code_version
    from kit_track import load_run

    spec = importlib.util.find_spec("test_kit_cli.demo_stage")
    commit = code_version(spec.origin if spec else None)[0]  # what the launch found
    assert commit and launch.git_commit == commit and launch.git_dirty is not None
    assert launch.code_digest and launch.code_digest.startswith("sha256:")
    if digest is not None:
        assert launch.code_digest == digest
    run = load_run(run_id)
    code = (launch.git_commit, launch.git_dirty, launch.code_digest)
    assert (run.git_commit, run.git_dirty, run.code_digest) == code
    assert (producer.git_commit, producer.git_dirty, producer.code_digest) == code


def test_attached_run_records_the_launch_code(lineage_recipe, slurm_env_file, publish_data):
    """`--run` on Slurm: the job (in its own job dir, no checkout) records the launch's code."""
    publish_data()
    launch = run_stage_job(lineage_recipe, "train", ["-c", "lineage", "--run", "slurm"])
    assert launch.ok, launch
    from kit_artifacts import get_registry

    record = get_registry().record("art://demo-model:latest")
    _assert_same_code(load_launch(str(launch.run_id)), record.producer, str(launch.run_id))


def test_attached_failure_exits_1_and_logs_are_readable(demo_recipe, slurm_env_file):
    """`--run` waits for the job; a failing stage makes the CLI exit 1; its logs remain."""
    launch = run_stage_job(demo_recipe, "train", ["--run", "slurm", "+fail=true"])
    assert launch.exit_code == 1 and launch.stage_exit_code == 3 and launch.job_id
    app = _app(demo_recipe)
    status = runner.invoke(app, ["job", "status", launch.job_id])
    assert status.exit_code == 1 and json.loads(status.stdout)["state"] == "FAILED"
    assert runner.invoke(app, ["job", "logs", launch.job_id]).exit_code == 0
    assert load_launch(str(launch.run_id)).status == "failed"


def test_cancel_a_running_job(demo_recipe, slurm_env_file):
    """`job cancel` ends a running job; its status is then CANCELLED (exit 1)."""
    launch = run_stage_job(demo_recipe, "train", ["-b", "slurm", "+sleep=120"])
    assert launch.ok and launch.job_id
    app = _app(demo_recipe)
    cancelled = runner.invoke(app, ["job", "cancel", launch.job_id])
    assert cancelled.exit_code == 0 and cancelled.stdout.strip().endswith("CANCELLED")
    assert runner.invoke(app, ["job", "status", launch.job_id]).exit_code == 1


def test_batch_chain_defers_an_upstream_artifact(demo_recipe, config_dir, slurm_env_file):
    """A later stage waits on the earlier job and pins the artifact it published at run time."""
    (config_dir / "prep.yaml").write_text("publish: chain-data\n")
    (config_dir / "train.yaml").write_text(
        "data: ${art:chain-data,path}\npublish: chain-model\n")
    prep = run_stage_job(demo_recipe, "data prep", ["-c", "prep", "-b", "slurm",
                                                    "+sleep=2"])
    assert prep.ok and prep.job_id
    train = run_stage_job(demo_recipe, "train", ["-c", "train", "-b", "slurm"],
                          after=[prep.job_id], defer_inputs=["chain-data"])
    assert train.ok and train.job_id, "chain-data does not exist yet: it must not be pinned"
    record = load_launch(str(train.run_id))
    assert record.deferred == ["art://chain-data"] and record.after == [prep.job_id]
    assert "${art:chain-data,path}" in (record.directory / "config.yaml").read_text()
    assert _wait(train.job_id) == "SUCCEEDED"

    from kit_artifacts import get_registry

    model = get_registry().record("art://chain-model:latest")
    assert model.inputs == ("art://chain-data:v1",)
    assert get_registry().record("art://chain-data:v1").producer.run_id == prep.run_id


def test_pex_job_runs_the_pex_as_the_stage(demo_recipe, slurm_env_file, tmp_path,
                                           monkeypatch):
    """With a job PEX the job command is `PEX --config config.yaml`, not `python -m`."""
    source = tmp_path / "pexsrc"
    source.mkdir()
    (source / "__main__.py").write_text(
        "import sys\nfrom test_kit_cli.demo_stage import main\nsys.exit(main())\n")
    pex = tmp_path / "demo-job.pex"
    zipapp.create_archive(source, pex, interpreter=sys.executable)
    monkeypatch.setenv("NEMOTRON_JOB_PEX", str(pex))
    launch = run_stage_job(demo_recipe, "train", ["-r", "slurm", "+echo=from-pex"])
    assert launch.ok, launch
    from kit_run import list_jobs

    (job,) = (j for j in list_jobs() if j["job_id"] == launch.job_id)
    assert job["command"][0].endswith("/code/demo-job.pex")
    assert job["command"][1:] == ["--config", "config.yaml"]
    assert job["code"]["kind"] == "pex"
    out = slurm_env_file.parent / "nemotron-home" / "demo-out" / str(launch.run_id)
    assert (out / "echo.txt").read_text() == "from-pex"
    # The code digest in every record is the shipped PEX's sha256.
    digest = f"sha256:{hashlib.sha256(pex.read_bytes()).hexdigest()}"
    assert job["code"]["digest"] == digest
    from kit_track import load_run

    assert load_launch(str(launch.run_id)).code_digest == digest
    assert load_run(str(launch.run_id)).code_digest == digest
