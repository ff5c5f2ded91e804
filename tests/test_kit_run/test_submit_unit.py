"""Unit tests of submission logic: dry runs, the fake executor/transport path, sacct, lookups."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kit_run
from kit_run import (
    FakeExecutor,
    FakeTransport,
    JobHandle,
    JobNotFoundError,
    JobSpec,
    SchedulerRejectedError,
    SubmissionError,
    profile_from_mapping,
    submit,
)
from kit_run._slurm import SlurmBackend, parse_sacct, slurm_state
from kit_run._transport import CommandResult

SECRET = "wandb-sekrit-0123456789"
SLURM = {"executor": "slurm", "account": "acct", "partition": "batch", "nodes": 2,
         "gpus_per_node": 8, "time": "01:00:00", "container_image": "nvcr.io/nemo:25.01",
         "setup_lines": ["module load cuda"], "env_vars": {"NCCL_DEBUG": "INFO"}}
SSH = {**SLURM, "tunnel": "ssh", "host": "login.example", "user": "me",
       "remote_job_dir": "/lustre/me/jobs"}


def _slurm(settings: dict[str, Any] | None = None) -> kit_run.Profile:
    return profile_from_mapping("cluster", settings or SLURM)


def _jobs(home: Path) -> list[Path]:
    directory = home / "jobs"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def test_dry_run_prints_full_script_and_settings_masks_secrets(_nemotron_home: Path) -> None:
    """A Slurm dry run shows every #SBATCH flag, the launcher and settings; no secret value."""
    spec = JobSpec("pretrain", ["python", "-m", "nano3.pretrain", f"--key={SECRET}"],
                   env={"STAGE": "pretrain"}, ntasks=16)
    handle = submit(spec, _slurm(), attached=False, dry_run=True,
                    secrets={"WANDB_API_KEY": SECRET})
    text = handle.dry_run_text or ""
    for expected in ("#SBATCH --account=acct", "#SBATCH --partition=batch",
                     "#SBATCH --nodes=2", "#SBATCH --gpus-per-node=8",
                     "#SBATCH --time=01:00:00", "--container-image nvcr.io/nemo:25.01",
                     "module load cuda", "export NCCL_DEBUG=INFO", "export STAGE=pretrain",
                     "# ----- job.sbatch -----", "# ----- launch.sh -----",
                     '#   account = "acct"', "WANDB_API_KEY=***",
                     "python -m nano3.pretrain"):
        assert expected in text, expected
    assert SECRET not in text
    assert handle.job_id == "dry-run"
    assert _jobs(_nemotron_home) == []


def test_dry_run_submits_nothing_even_with_a_fake_executor(_nemotron_home: Path) -> None:
    """dry_run=True never reaches the executor and writes no record."""
    fake = FakeExecutor()
    submit(JobSpec("x", ["true"]), _slurm(), attached=True, dry_run=True, executor=fake)
    assert fake.submitted == []
    assert kit_run.list_jobs() == []


def test_dry_run_of_dependent_job_shows_dependency_placeholder() -> None:
    """A dry run names the dependencies it would wait for, without resolving them."""
    text = kit_run.render_dry_run(JobSpec("b", ["true"], dependencies=["a-job"]), _slurm())
    assert "#SBATCH --dependency='afterok:<a-job>'" in text


def test_fake_executor_detached_submit_records_job(_nemotron_home: Path) -> None:
    """A detached submit stages files, records the job and returns its ids at once."""
    fake = FakeExecutor(state="RUNNING", exit_code=None)
    handle = submit(JobSpec("stage", ["echo", "hi"], experiment="exp-1"), _slurm(),
                    attached=False, executor=fake, secrets={"HF_TOKEN": "hf-sekrit-99"})
    assert handle.scheduler_id == "1000" and handle.state == "PENDING"
    assert handle.experiment_id == "exp-1"
    job = fake.submitted[0]
    assert set(job.files) == {"launch.sh", "job.sbatch"}
    assert job.secrets_file is not None
    assert oct(job.secrets_file.stat().st_mode & 0o777) == "0o600"
    record_text = (handle.record_path or Path()).read_text()
    assert "hf-sekrit-99" not in record_text
    record = json.loads(record_text)
    assert record["secret_names"] == ["HF_TOKEN"] and record["backend"] == "fake"
    assert kit_run.job_status(handle.job_id, executor=fake).state == "RUNNING"
    assert kit_run.job_status("exp-1", executor=fake).state == "RUNNING"


def test_fake_executor_attached_streams_and_returns_exit_code() -> None:
    """An attached submit streams the output and returns the final state and exit code."""
    fake = FakeExecutor(state="FAILED", exit_code=3, output="line 1\nline 2\n")
    chunks: list[str] = []
    handle = submit(JobSpec("x", ["false"]), _slurm(), attached=True, executor=fake,
                    log_sink=chunks.append, poll_interval=0.01)
    assert (handle.state, handle.exit_code) == ("FAILED", 3)
    assert "".join(chunks) == "line 1\nline 2\n"


def test_fake_executor_cancel_and_logs(_nemotron_home: Path) -> None:
    """cancel_job asks the executor to stop the job; job_logs reads its output."""
    fake = FakeExecutor(state="RUNNING", exit_code=None, output="working\n")
    handle = submit(JobSpec("x", ["sleep", "9"]), _slurm(), attached=False, executor=fake)
    assert "".join(kit_run.job_logs(handle.job_id, executor=fake)) == "working\n"
    status = kit_run.cancel_job(handle.job_id, executor=fake, wait=1)
    assert status.state == "CANCELLED" and fake.cancelled == [handle.job_id]


def test_failed_submission_leaves_nothing(_nemotron_home: Path) -> None:
    """An executor that raises leaves no staging dir and no record behind."""
    class Refusing(FakeExecutor):
        def submit(self, job: Any, record: dict[str, Any]) -> str:
            raise SubmissionError("refused")

    with pytest.raises(SubmissionError):
        submit(JobSpec("x", ["true"]), _slurm(), attached=False, executor=Refusing())
    assert [p for p in _jobs(_nemotron_home) if p.name != "nemo_run"] == []


def test_follow_commands_use_the_job_command_group() -> None:
    """A detached handle prints `nemotron job status|logs|cancel <id>`."""
    handle = JobHandle(job_id="j-1", experiment_id="e", profile="p")
    assert handle.follow_commands() == ["nemotron job status j-1", "nemotron job logs j-1",
                                        "nemotron job cancel j-1"]


@pytest.mark.parametrize("call", [
    pytest.param(lambda: kit_run.job_status("nope"), id="status"),
    pytest.param(lambda: list(kit_run.job_logs("nope")), id="logs"),
    pytest.param(lambda: kit_run.cancel_job("nope"), id="cancel"),
    pytest.param(lambda: kit_run.wait_for_job("nope"), id="wait"),
    pytest.param(lambda: submit(JobSpec("b", ["true"], dependencies=["nope"]), _slurm(),
                                attached=False, executor=FakeExecutor()), id="dependency"),
])
def test_unknown_job_id_raises_job_not_found(call: Any) -> None:
    """Every lookup of an unknown job id fails with JobNotFoundError naming the id."""
    with pytest.raises(JobNotFoundError, match="nope") as info:
        call()
    assert info.value.job_id == "nope"
    assert isinstance(info.value, LookupError)


def test_experiment_with_two_jobs_is_ambiguous_for_status() -> None:
    """An experiment id that names two jobs asks for one job id, listing both."""
    fake = FakeExecutor()
    a = submit(JobSpec("a", ["true"], experiment="exp"), _slurm(), attached=False, executor=fake)
    b = submit(JobSpec("b", ["true"], experiment="exp"), _slurm(), attached=False, executor=fake)
    with pytest.raises(JobNotFoundError, match="has 2 jobs") as info:
        kit_run.job_status("exp", executor=fake)
    assert a.job_id in str(info.value) and b.job_id in str(info.value)


def test_local_dependencies_are_refused() -> None:
    """Dependencies on a non-Slurm profile are an error, not silently ignored."""
    fake = FakeExecutor()
    local = profile_from_mapping("laptop", {"executor": "local"})
    first = submit(JobSpec("a", ["true"]), _slurm(), attached=False, executor=fake)
    with pytest.raises(SubmissionError, match="need a slurm profile"):
        submit(JobSpec("b", ["true"], dependencies=[first.job_id]), local, attached=False,
               executor=fake)


@pytest.mark.parametrize(("line", "state", "code", "reason"), [
    pytest.param("42|COMPLETED|0:0|None", "SUCCEEDED", 0, None, id="completed"),
    pytest.param("42|FAILED|7:0|NonZeroExitCode", "FAILED", 7, "NonZeroExitCode",
                 id="failed-exit-code"),
    pytest.param("42|FAILED|0:9|None", "FAILED", 137, None, id="killed-by-signal"),
    pytest.param("42|CANCELLED by 0|0:15|None", "CANCELLED", 0, None, id="cancelled-by-user"),
    pytest.param("42|RUNNING|0:0|None", "RUNNING", None, None, id="running-no-code"),
    pytest.param("42|PENDING|0:0|Dependency", "PENDING", None, "Dependency",
                 id="pending-dependency"),
    pytest.param("42|TIMEOUT|0:0|TimeLimit", "FAILED", 0, "TimeLimit", id="timeout"),
    pytest.param("42|WEIRD|0:0|None", "UNKNOWN", 0, None, id="unknown-state"),
])
def test_parse_sacct(line: str, state: str, code: int | None, reason: str | None) -> None:
    """sacct lines map to kit states, exit codes (128+signal) and reasons."""
    status = parse_sacct("job", "42", line + "\n")
    assert status is not None
    assert (status.state, status.exit_code, status.reason) == (state, code, reason)


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param("41|COMPLETED|0:0|None\n", id="other-job"),
    pytest.param("42|COMPLETED\n", id="too-few-fields"),
    pytest.param("42.batch|COMPLETED|0:0|None\n", id="step-line"),
])
def test_parse_sacct_without_the_job_returns_none(text: str) -> None:
    """Output that has no line for the job yields None (the caller then asks squeue)."""
    assert parse_sacct("job", "42", text) is None


@given(st.sampled_from(["COMPLETED", "FAILED", "CANCELLED", "RUNNING", "PENDING"]),
       st.integers(0, 255), st.integers(0, 64))
def test_parse_sacct_round_trips_states_and_codes(raw: str, code: int, signal: int) -> None:
    """Any well-formed sacct line parses to the mapped state; finished jobs keep a code."""
    status = parse_sacct("j", "7", f"7|{raw}|{code}:{signal}|None")
    assert status is not None and status.state == slurm_state(raw)
    if status.state in ("PENDING", "RUNNING"):
        assert status.exit_code is None
    elif code or not signal or status.state != "FAILED":
        assert status.exit_code == code
    else:
        assert status.exit_code == 128 + signal


def _ssh_backend(transport: FakeTransport) -> SlurmBackend:
    return SlurmBackend(connect=lambda info: transport)


def test_slurm_backend_over_fake_transport_ships_files_and_scrubs_env(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over SSH: job dir made 0700, files put, secrets file created 0600 first, sbatch env
    scrubbed of secret names."""
    monkeypatch.setenv("MY_API_TOKEN", "tok")
    transport = FakeTransport(answers={"sbatch": CommandResult(0, "4242;cluster\n", "")})
    handle = submit(JobSpec("x", ["true"]), _slurm(SSH), attached=False,
                    executor=_ssh_backend(transport), secrets={"WANDB_API_KEY": SECRET})
    assert handle.scheduler_id == "4242"
    remote = f"/lustre/me/jobs/{handle.job_id}"
    assert transport.commands[0] == f"mkdir -p {remote}/code && chmod 700 {remote}"
    assert {r for _, r in transport.puts} == {f"{remote}/launch.sh", f"{remote}/job.sbatch",
                                              f"{remote}/secrets.env"}
    umask = next(i for i, c in enumerate(transport.commands) if "umask 077" in c)
    put_secret = next(i for i, (_, r) in enumerate(transport.puts) if r.endswith("secrets.env"))
    assert umask >= 0 and put_secret >= 0
    sbatch = next(c for c in transport.commands if "sbatch" in c)
    assert "-u MY_API_TOKEN" in sbatch and "-u WANDB_API_KEY" in sbatch
    assert all(SECRET not in c for c in transport.commands)


def test_slurm_backend_rejection_surfaces_scheduler_message(_nemotron_home: Path) -> None:
    """sbatch's refusal becomes SchedulerRejectedError with the scheduler's own words."""
    message = "sbatch: error: Batch job submission failed: Invalid account"
    transport = FakeTransport(answers={"sbatch": CommandResult(1, "", message + "\n")})
    with pytest.raises(SchedulerRejectedError, match="Invalid account") as info:
        submit(JobSpec("x", ["true"]), _slurm(SSH), attached=False,
               executor=_ssh_backend(transport))
    assert info.value.scheduler_message == message
    assert _jobs(_nemotron_home) == []


def test_sbatch_without_job_id_is_a_submission_error(_nemotron_home: Path) -> None:
    """sbatch exiting 0 without printing a job id is an error, and nothing is recorded."""
    transport = FakeTransport(answers={"sbatch": CommandResult(0, "", "")})
    with pytest.raises(SubmissionError, match="printed no job id"):
        submit(JobSpec("x", ["true"]), _slurm(SSH), attached=False,
               executor=_ssh_backend(transport))
    assert _jobs(_nemotron_home) == []


def test_slurm_backend_status_falls_back_to_squeue() -> None:
    """Before sacct knows the job, squeue's state is used."""
    transport = FakeTransport(answers={"sbatch": CommandResult(0, "77\n", ""),
                                       "sacct": CommandResult(0, "", ""),
                                       "squeue": CommandResult(0, "PENDING\n", "")})
    fake = _ssh_backend(transport)
    handle = submit(JobSpec("x", ["true"]), _slurm(SSH), attached=False, executor=fake)
    assert kit_run.job_status(handle.job_id, executor=fake).state == "PENDING"


def test_slurm_backend_cancel_failure_is_reported() -> None:
    """A failing scancel raises SubmissionError with Slurm's message."""
    transport = FakeTransport(answers={"sbatch": CommandResult(0, "77\n", ""),
                                       "scancel": CommandResult(1, "", "Invalid job id")})
    fake = _ssh_backend(transport)
    handle = submit(JobSpec("x", ["true"]), _slurm(SSH), attached=False, executor=fake)
    with pytest.raises(SubmissionError, match="Invalid job id"):
        kit_run.cancel_job(handle.job_id, executor=fake)


_BASE = {"executor": "slurm", "account": "acct", "partition": "batch"}


@pytest.mark.parametrize(("settings", "ntasks", "per_node", "total"), [
    pytest.param({}, 1, 1, 1, id="defaults-one-task"),
    pytest.param({"nodes": 2}, 1, 1, 2, id="two-nodes-run-two-tasks"),
    pytest.param({"ntasks_per_node": 2}, 1, 2, 2, id="tasks-per-node"),
    pytest.param({"nodes": 2, "ntasks_per_node": 4}, 1, 4, 8, id="nodes-times-tasks"),
    pytest.param({"nodes": 2, "gpus_per_node": 8}, 1, 8, 16, id="one-task-per-gpu"),
    pytest.param({"nodes": 2, "gpus_per_node": 8, "ntasks_per_node": 1}, 1, 1, 2,
                 id="explicit-tasks-win-over-gpus"),
    pytest.param({"nodes": 2}, 6, 3, 6, id="job-tasks-spread-over-nodes"),
])
def test_slurm_task_count_follows_the_profile(settings: dict[str, Any], ntasks: int,
                                              per_node: int, total: int) -> None:
    """The sbatch flags and the srun task count agree with nodes x tasks per node."""
    from kit_run._scripts import render_sbatch

    spec = JobSpec("pretrain", ["python", "-m", "x"], ntasks=ntasks)
    text = render_sbatch(spec, profile_from_mapping("c", {**_BASE, **settings}), "/r", "j", None)
    assert f"#SBATCH --nodes={settings.get('nodes', 1)}" in text
    assert f"#SBATCH --ntasks-per-node={per_node}" in text
    assert f"srun --kill-on-bad-exit=1 --ntasks={total} " in text
