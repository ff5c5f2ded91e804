"""Code identity in every record: launch record, run record, artifact producer, dry run.

The launcher finds the commit of the checkout that launches (not of the stage's working
directory: these tests run stages from a tmp cwd outside any checkout) and the digest of
the code, and hands both to the stage in `NEMOTRON_GIT_COMMIT/_DIRTY/NEMOTRON_CODE_DIGEST`.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from kit_cli import run_stage
from kit_cli._launches import code_digest, code_version, list_launches
from test_kit_cli.conftest import subprocess_env


@pytest.fixture(autouse=True)
def child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the stage subprocess an absolute PYTHONPATH (tests run from a tmp cwd)."""
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])


@pytest.fixture()
def lineage_config(config_dir: Path, publish_data) -> str:
    (config_dir / "lineage.yaml").write_text("data: ${art:demo-data,path}\npublish: demo-model\n")
    return str(publish_data())


def _git_repo(path: Path) -> str:
    path.mkdir(parents=True)
    for args in (["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
                                   "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True)
    return str(done.stdout).strip()


def test_local_run_records_the_launch_code_in_launch_run_and_producer(
        demo_recipe, lineage_config, isolated_home, launch_commit):
    """Launch record, kit-track's run record and the version's producer agree on the code."""
    assert run_stage(demo_recipe, "train", ["-c", "lineage"]) == 0
    (launch,) = list_launches()
    assert launch.git_commit == launch_commit and launch.git_dirty is not None
    assert launch.code_digest and launch.code_digest.startswith("sha256:")
    assert launch.code_source and launch.code_source.startswith("source:")

    from kit_artifacts import get_registry
    from kit_track import load_run

    run = load_run(launch.run_id)
    assert (run.git_commit, run.git_dirty, run.code_digest) == \
        (launch.git_commit, launch.git_dirty, launch.code_digest)
    producer = get_registry().record("art://demo-model:latest").producer
    assert producer.run_id == launch.run_id
    assert (producer.git_commit, producer.git_dirty, producer.code_digest) == \
        (launch.git_commit, launch.git_dirty, launch.code_digest)


def test_dry_run_prints_commit_and_digest(demo_recipe, capsys, launch_commit):
    """`--dry-run` shows the launching commit and the code digest; it writes nothing."""
    assert run_stage(demo_recipe, "train", ["-d"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("# code: "))
    assert line.startswith(f"# code: {launch_commit}")
    assert " digest sha256:" in line and " of source:" in line and "test_kit_cli" in line


def test_launcher_pex_is_the_local_code_digest(tmp_path, monkeypatch):
    """Under `pants run` the stage runs from the launcher's PEX (`$PEX`): its sha256."""
    pex = tmp_path / "launcher.pex"
    pex.write_bytes(b"pex bytes")
    monkeypatch.setenv("PEX", str(pex))
    want = f"sha256:{hashlib.sha256(b'pex bytes').hexdigest()}"
    assert code_digest("test_kit_cli.demo_stage", None, local=True) == (want, f"pex:{pex}")
    # A remote job without a job PEX runs the source, not the launcher's PEX.
    assert str(code_digest("test_kit_cli.demo_stage", None, local=False)[1]).startswith("source:")
    job = tmp_path / "job.pex"
    job.write_bytes(b"job")
    digest, source = code_digest("x", job, local=False)
    assert digest == f"sha256:{hashlib.sha256(b'job').hexdigest()}" and source == f"pex:{job}"


@pytest.mark.parametrize(
    ("module_in_git", "cwd_in_git", "env", "expect"),
    [
        pytest.param(True, True, False, "module", id="module-checkout-first"),
        pytest.param(False, True, False, "cwd", id="pants-run-module-in-pex-cwd-in-repo"),
        pytest.param(False, False, False, None, id="no-git-anywhere"),
        pytest.param(False, True, True, "env", id="launcher-given-identity-wins"),
    ],
)
def test_code_version_order(tmp_path, monkeypatch, module_in_git, cwd_in_git, env, expect):
    """Given identity, then the stage module's checkout, then the working directory's."""
    module_commit = _git_repo(tmp_path / "mod") if module_in_git else None
    if not module_in_git:
        (tmp_path / "mod").mkdir()
    cwd_commit = _git_repo(tmp_path / "cwd-repo") if cwd_in_git else None
    if not cwd_in_git:
        (tmp_path / "cwd-repo").mkdir()
    monkeypatch.chdir(tmp_path / "cwd-repo")
    if env:
        monkeypatch.setenv("NEMOTRON_GIT_COMMIT", "f" * 40)
        monkeypatch.setenv("NEMOTRON_GIT_DIRTY", "1")
    commit, dirty = code_version(str(tmp_path / "mod" / "stage.py"))
    want = {"module": module_commit, "cwd": cwd_commit, "env": "f" * 40, None: None}[expect]
    assert commit == want
    assert dirty is (True if env else (False if want else None))


def test_job_spec_hands_the_identity_to_the_job(demo_recipe, tmp_path, launch_commit):
    """A job's environment carries commit, dirty flag and the job PEX's digest."""
    from kit_cli._argv import parse_stage_argv
    from kit_cli._jobspec import job_spec
    from kit_cli._plan import plan_stage

    pex = tmp_path / "job.pex"
    pex.write_bytes(b"code")
    profile = mock.Mock(file=None, executor="slurm", tunnel="ssh")
    profile.get.return_value = {"NEMOTRON_ARTIFACTS_ROOT": "/shared"}
    args = parse_stage_argv(["-b", "p"])
    plan = plan_stage(demo_recipe, demo_recipe.stage("train"), args, ["-b", "p"])
    spec = job_spec(plan, tmp_path / "config.yaml", pex, profile)
    assert spec.env["NEMOTRON_GIT_COMMIT"] == launch_commit
    assert spec.env["NEMOTRON_GIT_DIRTY"] in ("0", "1")
    assert spec.env["NEMOTRON_CODE_DIGEST"] == f"sha256:{hashlib.sha256(b'code').hexdigest()}"


def _rerun(run_id: str, demo_recipe) -> str:
    from typer.testing import CliRunner

    from kit_cli._app import build_app
    from kit_cli._discovery import RecipeEntry

    app = build_app([RecipeEntry("demo", "t:R", "test", recipe=demo_recipe)])
    with mock.patch("kit_cli._rerun.find_recipe", return_value=demo_recipe):
        result = CliRunner().invoke(app, ["rerun", run_id, "--allow-code-change"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_rerun_says_rebuilt_files_are_equal(demo_recipe, lineage_config):
    """A deterministic stage rebuilds identical files: rerun says so."""
    assert run_stage(demo_recipe, "train", ["-c", "lineage"]) == 0
    (original,) = list_launches()
    out = _rerun(original.run_id, demo_recipe)
    assert "outputs: art://demo-model:v2 has the same files as art://demo-model:v1 " \
           "(1 files" in out and out.rstrip().endswith("equal")
    assert f"code: digest {original.code_digest}: the same as the original's" in out


def test_rerun_says_which_rebuilt_files_differ(demo_recipe, lineage_config, monkeypatch):
    """A rebuild with different bytes is reported with the changed file's path."""
    assert run_stage(demo_recipe, "train", ["-c", "lineage"]) == 0
    (original,) = list_launches()
    monkeypatch.setenv("DEMO_SALT", "-other")
    out = _rerun(original.run_id, demo_recipe)
    assert "outputs: art://demo-model:v2 differs from art://demo-model:v1: " \
           "changed weights.txt" in out
