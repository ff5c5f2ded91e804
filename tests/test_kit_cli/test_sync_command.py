"""`nemotron sync`: local run records replayed to W&B through kit-track's `sync`.

The W&B boundary is kit-track's in-library `FakeWandbClient` (the real `sync` logic, the
real FileTracker records in the tmp NEMOTRON_HOME); the no-credentials and unreachable-server
cases go through the real client path.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import kit_cli._cmd_sync as cmd_sync
from kit_cli._app import build_app

runner = CliRunner()


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Route `nemotron sync` to one FakeWandbClient shared across invocations."""
    from kit_track import FakeWandbClient

    fake = FakeWandbClient()
    monkeypatch.setattr(cmd_sync, "wandb_client", lambda: fake)
    yield fake


@pytest.fixture(autouse=True)
def no_wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No W&B settings or netrc from the machine leak into a test."""
    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_BASE_URL",
                 "WANDB_MODE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))


def _finished_run(project: str | None = "proj", loss: float = 2.0) -> str:
    """A finished FileTracker run with one metric, one input and one output; its id."""
    from kit_track import FileTracker, start_run

    config = {"lr": 0.1, **({"wandb": {"project": project}} if project else {})}
    with start_run(stage="pretrain", config=config, trackers=[FileTracker()]) as run:
        run.log_input("art://data:v1", artifact_type="PretrainBlendsArtifact", path="/d")
        run.log_metrics({"loss": loss}, step=1)
        run.log_output("art://model:v1", artifact_type="ModelArtifact", path="/m")
    return run.run_id


def _sync(*args: str) -> Result:
    return runner.invoke(build_app([]), ["sync", *args])


def test_sync_prints_synced_runs_then_up_to_date(client: Any) -> None:
    """A finished run is sent once (counts and URL printed); a second sync skips it."""
    run_id = _finished_run()
    first = _sync()
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"synced\t{run_id}\tmetrics=1 inputs=1 outputs=1\t"
        f"https://wandb.fake/None/proj/runs/{run_id}",
        "sync: 1 synced, 0 skipped, 0 failed",
    ]
    (wb,) = client.runs
    assert wb.ops() == ["log", "use_artifact", "log_artifact", "finish"]
    again = _sync()
    assert again.exit_code == 0
    assert again.stdout.splitlines() == [f"skipped\t{run_id}\tup to date",
                                         "sync: 0 synced, 1 skipped, 0 failed"]
    assert len(client.runs) == 1


def test_sync_named_runs_only_with_project_and_entity(client: Any) -> None:
    """RUN_ID arguments limit the sync; --project/--entity reach W&B's init."""
    first, second = _finished_run(project=None), _finished_run(project=None)
    result = _sync(second, "--project", "other", "--entity", "team")
    assert result.exit_code == 0, result.output
    (wb,) = client.runs
    assert (wb.args.run_id, wb.args.project, wb.args.entity) == (second, "other", "team")
    assert first not in result.stdout and result.stdout.startswith(f"synced\t{second}\t")


def test_sync_skips_with_reasons(client: Any) -> None:
    """A still-running run and a run with no project anywhere are listed with why."""
    from kit_track import FileTracker, RunInfo

    FileTracker().start(RunInfo(run_id="r-running", stage="s", name="n"))
    unconfigured = _finished_run(project=None)
    result = _sync()
    assert result.exit_code == 0, result.output
    lines = set(result.stdout.splitlines())
    assert "skipped\tr-running\tstill running" in lines
    assert (f"skipped\t{unconfigured}\tno W&B project (pass project= or set WANDB_PROJECT)"
            in lines)
    assert client.runs == []


def test_sync_failure_exits_1_and_others_still_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run failing is reported with its reason, the others sync, and the exit code is 1."""
    from kit_track import FakeWandbClient

    failing = FakeWandbClient(fail={"log_artifact": OSError("disk full")})
    monkeypatch.setattr(cmd_sync, "wandb_client", lambda: failing)
    a, b = _finished_run(), _finished_run()
    result = _sync()
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed\t")]
    assert sorted(failed) == sorted(f"failed\t{r}\tOSError: disk full" for r in (a, b))
    assert result.stdout.splitlines()[-1] == "sync: 0 synced, 0 skipped, 2 failed"
    healthy = FakeWandbClient()  # the retry sends only what was missing
    monkeypatch.setattr(cmd_sync, "wandb_client", lambda: healthy)
    retry = _sync()
    assert retry.exit_code == 0 and all(r.ops() == ["log_artifact", "finish"]
                                        for r in healthy.runs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "env", "code", "needle"),
    [
        pytest.param(["no-such-run"], {}, 2, "no-such-run", id="unknown-run-id"),
        pytest.param([], {}, 2, "WANDB_API_KEY", id="no-credentials"),
        pytest.param([], {"WANDB_API_KEY": "k" * 40, "WANDB_BASE_URL": "closed"}, 1,
                     "unreachable", id="server-unreachable"),
    ],
)
def test_sync_bad_input_is_one_line(monkeypatch: pytest.MonkeyPatch, args: list[str],
                                    env: dict[str, str], code: int, needle: str) -> None:
    """Input and connection problems print one error line (no traceback) and exit non-zero."""
    for key, value in env.items():
        if value == "closed":
            value = f"http://127.0.0.1:{_closed_port()}"
        monkeypatch.setenv(key, value)
    if args:  # an unknown run id fails before W&B is contacted, even with the fake
        from kit_track import FakeWandbClient

        monkeypatch.setattr(cmd_sync, "wandb_client", FakeWandbClient)
    result = _sync(*args, "--project", "p")
    assert result.exit_code == code, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and needle in line
    assert "k" * 40 not in result.output
    assert result.stdout == ""


def test_sync_is_a_kit_command_with_its_options() -> None:
    """`nemotron sync --help` exists and documents --project and --entity."""
    result = runner.invoke(build_app([]), ["sync", "--help"])
    assert result.exit_code == 0, result.output
    assert "--project" in result.stdout and "--entity" in result.stdout
