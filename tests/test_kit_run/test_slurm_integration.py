"""Real jobs on the local Slurm (LocalTunnel and SSHTunnel): outcome, cancel, deps, logs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kit_run
from kit_run import JobSpec, SchedulerRejectedError, TunnelError, load_env_profile, submit

PY = sys.executable


def _py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_success_attached_streams_logs_and_hides_secrets(slurm_env_toml: Path,
                                                         _nemotron_home: Path) -> None:
    """An attached job streams its output, succeeds, and its secret reaches only the job."""
    chunks: list[str] = []
    code = ("import os; print('hello from', os.environ['SLURM_JOB_ID']); "
            "assert os.environ['WANDB_API_KEY'][::-1] == '1-eulav-tirkes'")
    handle = submit(JobSpec("ok", _py(code)), load_env_profile("slurm", slurm_env_toml),
                    attached=True, secrets={"WANDB_API_KEY": "sekrit-value-1"},
                    log_sink=chunks.append, poll_interval=0.2)
    assert (handle.state, handle.exit_code) == ("SUCCEEDED", 0)
    assert "hello from" in "".join(chunks)
    job_dir = _nemotron_home / "jobs" / handle.job_id
    assert oct((job_dir / "secrets.env").stat().st_mode & 0o777) == "0o600"
    for name in ("job.sbatch", "launch.sh"):
        assert "sekrit-value-1" not in (job_dir / name).read_text()
    assert "sekrit-value-1" not in (_nemotron_home / "jobs" / f"{handle.job_id}.json").read_text()


def test_failure_surfaces_exit_code(slurm_env_toml: Path) -> None:
    """A failing job reports FAILED with its exit code."""
    handle = submit(JobSpec("fail", _py("raise SystemExit(7)")), load_env_profile(
        "slurm", slurm_env_toml), attached=True, log_sink=lambda _: None, poll_interval=0.2)
    assert (handle.state, handle.exit_code) == ("FAILED", 7)


def test_two_task_job(slurm_env_toml: Path) -> None:
    """ntasks=2 runs two ranks."""
    chunks: list[str] = []
    handle = submit(JobSpec("two", _py("import os; print('rank', os.environ['RANK'])"),
                            ntasks=2), load_env_profile("slurm", slurm_env_toml),
                    attached=True, log_sink=chunks.append, poll_interval=0.2)
    out = "".join(chunks)
    assert handle.exit_code == 0 and "rank 0" in out and "rank 1" in out


def test_cancel_from_a_second_process(slurm_env_toml: Path) -> None:
    """A detached job is cancelled by a later process that knows only the job id."""
    handle = submit(JobSpec("long", _py("import time; print('started', flush=True); "
                                        "time.sleep(120)")),
                    load_env_profile("slurm", slurm_env_toml), attached=False)
    deadline = time.monotonic() + 60
    while kit_run.job_status(handle.job_id).state != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    code = ("import kit_run, sys; s = kit_run.cancel_job(sys.argv[1]); print(s.state)")
    result = subprocess.run([PY, "-c", code, handle.job_id], env=os.environ,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CANCELLED"
    assert kit_run.job_status(handle.experiment_id).state == "CANCELLED"
    assert "started" in "".join(kit_run.job_logs(handle.job_id))


def test_dependency_chain_orders_jobs_and_cancels_after_failure(slurm_env_toml: Path,
                                                                 tmp_path: Path) -> None:
    """B runs after A succeeds; C, after a failing job, never runs."""
    profile = load_env_profile("slurm", slurm_env_toml)
    marker = tmp_path / "order.txt"
    a = submit(JobSpec("a", _py(f"import time; time.sleep(2); open({str(marker)!r}, 'a')"
                                ".write('a')")), profile, attached=False)
    b = submit(JobSpec("b", _py(f"open({str(marker)!r}, 'a').write('b')"),
                       dependencies=[a.job_id]), profile, attached=False)
    bad = submit(JobSpec("bad", _py("raise SystemExit(1)")), profile, attached=False)
    c = submit(JobSpec("c", _py("print('never')"), dependencies=[bad.job_id]), profile,
               attached=False)
    assert kit_run.wait_for_job(b.job_id, poll_interval=0.3, timeout=120).state == "SUCCEEDED"
    assert marker.read_text() == "ab"
    assert kit_run.wait_for_job(c.job_id, poll_interval=0.3, timeout=120).state == "CANCELLED"


def test_output_lands_in_registry_root_the_submitter_reads(slurm_env_toml: Path,
                                                           tmp_path: Path) -> None:
    """A job writes an artifact into the registry root handed to it; the submitter finds it."""
    root = tmp_path / "artifacts"
    code = ("import json, os, pathlib; d = pathlib.Path(os.environ['NEMOTRON_ARTIFACTS_ROOT'])"
            " / 'model' / 'v1'; d.mkdir(parents=True); (d / 'metadata.json').write_text("
            "json.dumps({'producer': os.environ['NEMOTRON_JOB_ID'], 'step': 3}))")
    handle = submit(JobSpec("art", _py(code), env={"NEMOTRON_ARTIFACTS_ROOT": str(root)}),
                    load_env_profile("slurm", slurm_env_toml), attached=True,
                    log_sink=lambda _: None, poll_interval=0.2)
    assert handle.exit_code == 0
    meta = json.loads((root / "model" / "v1" / "metadata.json").read_text())
    assert meta == {"producer": handle.job_id, "step": 3}


def test_pex_is_shipped_digested_and_run(slurm_env_toml: Path, tmp_path: Path) -> None:
    """A PEX (here a zipapp, the same executable-zip form) is shipped, run, and digested."""
    import zipapp

    src = tmp_path / "app"
    src.mkdir()
    (src / "__main__.py").write_text("import os, sys; print('pex args', sys.argv[1:], "
                                     "os.environ['NEMOTRON_CODE_DIGEST'])\n")
    pex = tmp_path / "stage.pex"
    zipapp.create_archive(src, pex, interpreter=PY)
    chunks: list[str] = []
    handle = submit(JobSpec("pex", ["--config", "x.yaml"],
                            packager=kit_run.PexPackager(pex)),
                    load_env_profile("slurm", slurm_env_toml), attached=True,
                    log_sink=chunks.append, poll_interval=0.2)
    record = json.loads(handle.record_path.read_text()) if handle.record_path else {}
    digest = record["code"]["digest"]
    assert handle.exit_code == 0 and digest.startswith("sha256:")
    assert f"pex args ['--config', 'x.yaml'] {digest}" in "".join(chunks)


def test_sbatch_rejection_surfaces_scheduler_message(slurm_env_toml: Path,
                                                     write_env: object) -> None:
    """A partition Slurm does not know: SchedulerRejectedError with sbatch's own message."""
    profile = kit_run.profile_from_mapping("bad", {"executor": "slurm", "account": "kit",
                                                   "partition": "no-such-partition"})
    with pytest.raises(SchedulerRejectedError) as info:
        submit(JobSpec("x", _py("pass")), profile, attached=False)
    assert "invalid partition" in info.value.scheduler_message.lower()
    assert not list((Path(os.environ["NEMOTRON_HOME"]) / "jobs").glob("*.json"))
    assert not list((Path(os.environ["NEMOTRON_HOME"]) / "jobs").iterdir())


def test_ssh_tunnel_submission_and_status_from_later_process(slurm_env_toml: Path,
                                                             ssh_service: dict[str, str]
                                                             ) -> None:
    """Through NeMo-Run's SSHTunnel: ship, run, then query status from another process."""
    profile = load_env_profile("ssh", slurm_env_toml)
    handle = submit(JobSpec("viassh", _py("print('over ssh')")), profile,
                    attached=False, secrets={"HF_TOKEN": "hf-sekrit-2"})
    status = kit_run.wait_for_job(handle.job_id, poll_interval=0.3, timeout=120)
    assert status.state == "SUCCEEDED"
    code = "import kit_run, sys; print(kit_run.job_status(sys.argv[1]).state)"
    result = subprocess.run([PY, "-c", code, handle.job_id], env=os.environ,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.stdout.strip() == "SUCCEEDED", result.stderr
    assert "over ssh" in "".join(kit_run.job_logs(handle.job_id))
    remote = Path(str(profile.get("remote_job_dir"))) / handle.job_id
    assert oct((remote / "secrets.env").stat().st_mode & 0o777) == "0o600"
    assert "hf-sekrit-2" not in (remote / "job.sbatch").read_text()


@pytest.mark.parametrize(("overrides", "match"), [
    pytest.param({"port": 1}, "cannot reach", id="port-closed"),
    pytest.param({"host": "10.255.255.1", "ssh_timeout": 3}, "cannot reach",
                 id="host-unreachable"),
    pytest.param({"user": "nobody-here"}, "key authentication", id="bad-user-no-prompt"),
])
def test_unreachable_ssh_fails_fast_without_prompt(slurm_env_toml: Path,
                                                   ssh_service: dict[str, str],
                                                   overrides: dict[str, object],
                                                   match: str) -> None:
    """An unreachable or refusing SSH host fails within a bounded time and never prompts."""
    base = dict(load_env_profile("ssh", slurm_env_toml).settings)
    profile = kit_run.profile_from_mapping("ssh", {**base, **overrides})
    start = time.monotonic()
    with pytest.raises(TunnelError, match=match):
        submit(JobSpec("x", _py("pass")), profile, attached=False)
    assert time.monotonic() - start < 60


def _other_host_key_line(tmp_path: Path, port: str) -> str:
    """A known_hosts line for the test sshd's address holding a key it does not have."""
    key = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    return f"[127.0.0.1]:{port} {kind} {blob}\n"


@pytest.mark.parametrize(("known_hosts", "match"), [
    pytest.param(None, "known_hosts file .* does not exist", id="file-missing"),
    pytest.param("", r"\[127\.0\.0\.1\]:\d+ is not in the known_hosts file", id="host-unlisted"),
    pytest.param("other-key", "host key of .* does not match", id="host-key-changed"),
])
def test_host_key_checked_against_the_profiles_known_hosts(
        slurm_env_toml: Path, ssh_service: dict[str, str], tmp_path: Path,
        known_hosts: str | None, match: str) -> None:
    """`known_hosts` is checked strictly (as StrictHostKeyChecking=yes): an unlisted host or
    a changed key refuses the connection before anything is shipped or queued, and the
    error's hint is a command that fixes it (ssh-keyscan/ssh-keygen -R)."""
    base = dict(load_env_profile("ssh", slurm_env_toml).settings)
    path = tmp_path / "known_hosts"
    if known_hosts is not None:
        path.write_text(_other_host_key_line(tmp_path, ssh_service["NEMOTRON_SSH_PORT"])
                        if known_hosts == "other-key" else known_hosts)
    profile = kit_run.profile_from_mapping("ssh", {**base, "known_hosts": str(path)})
    with pytest.raises(TunnelError, match=match) as info:
        submit(JobSpec("x", _py("pass")), profile, attached=False)
    assert not (Path(str(base["remote_job_dir"]))).exists()
    hint = info.value.hint or ""
    assert "ssh-keyscan -p" in hint
    # The suggested fix works: run it, and the same profile now connects and submits.
    fix = hint.split(": ", 1)[1] if ": " in hint else hint
    subprocess.run(["bash", "-c", fix], check=True, timeout=60)
    handle = submit(JobSpec("x", _py("pass")), profile, attached=False)
    assert kit_run.wait_for_job(handle.job_id, poll_interval=0.3, timeout=120).state == "SUCCEEDED"
