"""Real jobs on the local backend, and code shipping with real git repositories and PEXes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipapp
from pathlib import Path

import pytest

import kit_run
from kit_run import (
    DirtyTreeError,
    GitArchivePackager,
    JobSpec,
    PackagingError,
    PexPackager,
    profile_from_mapping,
    submit,
)

PY = sys.executable
LOCAL = profile_from_mapping("laptop", {"executor": "local"})


def _py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_local_attached_success_streams_output_and_hides_secret(_nemotron_home: Path) -> None:
    """An attached local job streams its output, succeeds, and reads its secret from the
    0600 file only."""
    chunks: list[str] = []
    code = "import os; print('hello', os.environ['HF_TOKEN'][::-1] == 'lacol-tirkes-fh')"
    handle = submit(JobSpec("ok", _py(code)), LOCAL, attached=True, log_sink=chunks.append,
                    poll_interval=0.1, secrets={"HF_TOKEN": "hf-sekrit-local"})
    assert (handle.state, handle.exit_code) == ("SUCCEEDED", 0)
    assert "hello True" in "".join(chunks)
    job_dir = _nemotron_home / "jobs" / handle.job_id
    assert oct((job_dir / "secrets.env").stat().st_mode & 0o777) == "0o600"
    for name in ("job.sh", "launch.sh", "output.log"):
        assert "hf-sekrit-local" not in (job_dir / name).read_text()


def test_local_failure_surfaces_exit_code() -> None:
    """A failing local job reports FAILED with its exit code."""
    handle = submit(JobSpec("fail", _py("raise SystemExit(5)")), LOCAL, attached=True,
                    log_sink=lambda _: None, poll_interval=0.1)
    assert (handle.state, handle.exit_code) == ("FAILED", 5)


def test_local_two_tasks_run_two_ranks() -> None:
    """ntasks=2 runs two copies with RANK 0 and 1 (each prints its line in one write: the
    jobs run unbuffered, so `print('rank', r)` could interleave with the other rank's)."""
    chunks: list[str] = []
    handle = submit(JobSpec("two", _py("import os; print('rank ' + os.environ['RANK'])"),
                            ntasks=2), LOCAL, attached=True, log_sink=chunks.append,
                    poll_interval=0.1)
    out = "".join(chunks)
    assert handle.exit_code == 0 and "rank 0" in out and "rank 1" in out


def _in_second_process(code: str, job_id: str) -> str:
    result = subprocess.run([PY, "-c", code, job_id], env=os.environ, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_local_batch_status_logs_cancel_from_second_process() -> None:
    """A detached local job is followed and cancelled by other processes knowing its id."""
    handle = submit(JobSpec("long", _py("import time; print('started', flush=True); "
                                        "time.sleep(120)"), experiment="exp-local"),
                    LOCAL, attached=False)
    deadline = time.monotonic() + 30
    while "started" not in "".join(kit_run.job_logs(handle.job_id)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status = _in_second_process("import kit_run, sys; print(kit_run.job_status(sys.argv[1])"
                                ".state)", handle.job_id)
    assert status.strip() == "RUNNING"
    logs = _in_second_process("import kit_run, sys; print(''.join(kit_run.job_logs("
                              "sys.argv[1])))", "exp-local")
    assert "started" in logs
    cancelled = _in_second_process("import kit_run, sys; print(kit_run.cancel_job("
                                   "sys.argv[1]).state)", handle.job_id)
    assert cancelled.strip() == "CANCELLED"
    assert kit_run.job_status(handle.job_id).state == "CANCELLED"
    assert [r["job_id"] for r in kit_run.list_jobs()] == [handle.job_id]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A committed git repository with a runnable module."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "stage.py").write_text("print('stage version 1')\n")
    (repo / "notes.txt").write_text("committed\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    return repo


def test_git_archive_clean_tree_ships_and_runs(git_repo: Path) -> None:
    """A clean tree ships as an archive; the job runs the committed code; commit recorded."""
    chunks: list[str] = []
    handle = submit(JobSpec("git", [PY, "pkg/stage.py"], packager=GitArchivePackager(git_repo)),
                    LOCAL, attached=True, log_sink=chunks.append, poll_interval=0.1)
    assert handle.exit_code == 0 and "stage version 1" in "".join(chunks)
    record = json.loads((handle.record_path or Path()).read_text())["code"]
    assert record["commit"] == _git(git_repo, "rev-parse", "HEAD").strip()
    assert record["dirty"] is False and record["digest"].startswith("sha256:")
    assert "diff_digest" not in record


def test_git_archive_dirty_tree_is_refused(git_repo: Path, _nemotron_home: Path) -> None:
    """An uncommitted change to a tracked file is refused with DirtyTreeError; nothing left."""
    (git_repo / "pkg" / "stage.py").write_text("print('uncommitted')\n")
    with pytest.raises(DirtyTreeError, match="uncommitted changes") as info:
        submit(JobSpec("git", [PY, "pkg/stage.py"], packager=GitArchivePackager(git_repo)),
               LOCAL, attached=False)
    assert info.value.changed == ("pkg/stage.py",)
    assert "allow_dirty" in str(info.value)
    assert not list((_nemotron_home / "jobs").iterdir())


def test_git_archive_untracked_files_do_not_make_tree_dirty(git_repo: Path) -> None:
    """Untracked files are not shipped and do not block a submission."""
    (git_repo / "scratch.txt").write_text("local only\n")
    handle = submit(JobSpec("git", [PY, "-c", "import os; print(os.path.exists('scratch.txt'))"],
                            packager=GitArchivePackager(git_repo)), LOCAL, attached=True,
                    log_sink=lambda _: None, poll_interval=0.1)
    log = "".join(kit_run.job_logs(handle.job_id))
    assert handle.exit_code == 0 and "False" in log


def test_git_archive_allow_dirty_ships_tree_and_records_diff(git_repo: Path) -> None:
    """allow_dirty ships the working tree and records the diff and its digest."""
    (git_repo / "pkg" / "stage.py").write_text("print('stage version 2 (dirty)')\n")
    chunks: list[str] = []
    handle = submit(JobSpec("git", [PY, "pkg/stage.py"],
                            packager=GitArchivePackager(git_repo, allow_dirty=True)),
                    LOCAL, attached=True, log_sink=chunks.append, poll_interval=0.1)
    assert handle.exit_code == 0 and "stage version 2 (dirty)" in "".join(chunks)
    record = json.loads((handle.record_path or Path()).read_text())["code"]
    assert record["dirty"] is True and record["diff_digest"].startswith("sha256:")
    diff = Path(record["diff_file"]).read_text()
    assert "+print('stage version 2 (dirty)')" in diff
    assert _git(git_repo, "status", "--porcelain", "--untracked-files=no").strip()  # untouched


@pytest.mark.parametrize(("packager", "match"), [
    pytest.param(lambda tmp: GitArchivePackager(tmp), "not a git|git rev-parse",
                 id="not-a-git-repo"),
    pytest.param(lambda tmp: PexPackager(tmp / "missing.pex"), "does not exist",
                 id="missing-pex"),
    pytest.param(lambda tmp: PexPackager(tmp / "a.pex", inherit_path="always"),
                 "inherit_path", id="bad-inherit-path"),
])
def test_packaging_errors(tmp_path: Path, packager: object, match: str,
                          _nemotron_home: Path) -> None:
    """Bad packager input fails with PackagingError before anything is submitted."""
    (tmp_path / "a.pex").write_text("x")
    with pytest.raises(PackagingError, match=match):
        submit(JobSpec("x", ["run"], packager=packager(tmp_path)),  # type: ignore[operator]
               LOCAL, attached=False)
    assert not list((_nemotron_home / "jobs").iterdir())


def test_pex_runs_locally_with_profile_python_and_digest(tmp_path: Path) -> None:
    """A PEX-form zipapp runs with the profile's `pex_python`; its digest reaches the job."""
    src = tmp_path / "app"
    src.mkdir()
    (src / "__main__.py").write_text("import os, sys; print('pex', sys.argv[1:], "
                                     "os.environ['NEMOTRON_CODE_DIGEST'], "
                                     "os.environ.get('PEX_INHERIT_PATH'))\n")
    pex = tmp_path / "stage.pex"
    zipapp.create_archive(src, pex, interpreter="/nonexistent/python")
    profile = profile_from_mapping("container", {"executor": "local", "pex_python": PY,
                                                 "pex_inherit_path": True})
    chunks: list[str] = []
    handle = submit(JobSpec("pex", ["--flag"], packager=PexPackager(pex)), profile,
                    attached=True, log_sink=chunks.append, poll_interval=0.1)
    digest = json.loads((handle.record_path or Path()).read_text())["code"]["digest"]
    assert handle.exit_code == 0
    assert f"pex ['--flag'] {digest} fallback" in "".join(chunks)
