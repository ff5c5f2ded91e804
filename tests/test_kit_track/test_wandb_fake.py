"""WandbTracker, helpers and sync against the in-library fake W&B client (calls asserted)."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

import kit_track
from kit_track import FakeWandbClient, FileTracker, WandbTracker, start_run
from kit_track._wandb import call_with_deadline

KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API key in the environment (the fake never sends it anywhere)."""
    monkeypatch.setenv("WANDB_API_KEY", KEY)


def _run_with(client: FakeWandbClient, **kw: object) -> kit_track.Run:
    tracker = WandbTracker(project="proj", entity="team", client=client, **kw)  # type: ignore[arg-type]
    with start_run(stage="pretrain", config={"lr": 0.1}, tags=("t1",),
                   trackers=[FileTracker(), tracker]) as run:
        run.log_input("art://data:v2", artifact_type="PretrainBlendsArtifact", path="/data/d")
        run.log_metrics({"loss": 2.0}, step=1)
        run.add_tags("t2")
        run.log_output("art://model:v3", artifact_type="ModelArtifact", path="/ckpt/m")
    return run


def test_online_mirror_calls(online: None) -> None:
    """Online: init with the run's identity, use_artifact for inputs, reference outputs."""
    client = FakeWandbClient()
    run = _run_with(client)
    (wb,) = client.runs
    assert (wb.args.project, wb.args.entity, wb.args.run_id) == ("proj", "team", run.run_id)
    assert wb.args.config["lr"] == 0.1 and wb.args.tags == ("t1",)
    assert wb.args.config["_nemotron"]["run_id"] == run.run_id
    assert wb.args.job_type == "pretrain" and wb.args.mode == "online"
    assert wb.ops() == ["use_artifact", "log", "add_tags", "log_artifact", "finish"]
    used = wb.calls[0][1]["spec"]
    assert (used.name, used.reference) == ("data", "file:///data/d")
    assert used.metadata["kit_uri"] == "art://data:v2"
    logged = wb.calls[3][1]
    assert logged["spec"].name == "model" and logged["aliases"] == ("kit-v3",)
    assert wb.calls[1][1] == {"metrics": {"loss": 2.0}, "step": 1}
    state = json.loads((Path(run.run_dir or "") / "wandb_sync.json").read_text())
    assert state["inputs"] == ["art://data:v2"] and state["outputs"] == ["art://model:v3"]
    assert state["metrics"] == 1 and state["finished"] is True


def test_offline_queues_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline: no key needed; inputs are queued (W&B cannot use_artifact offline)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    client = FakeWandbClient()
    run = _run_with(client)
    (wb,) = client.runs
    assert wb.ops() == ["log", "add_tags", "log_artifact", "finish"]
    pending = (Path(run.run_dir or "") / "wandb_pending.jsonl").read_text()
    assert json.loads(pending)["uri"] == "art://data:v2"
    assert kit_track.load_run(run.run_id).tracker_errors == ()
    # Only where the run belongs is remembered (for `sync`); nothing counts as sent yet.
    state = json.loads((Path(run.run_dir or "") / "wandb_sync.json").read_text())
    assert (state["project"], state["entity"]) == ("proj", "team")
    assert not state["config"] and not state["finished"] and state["metrics"] == 0


@pytest.mark.parametrize(
    ("env", "fail", "operation", "error_type"),
    [
        pytest.param({}, {}, "start", "CredentialsError", id="no-key"),
        pytest.param({"WANDB_API_KEY": KEY}, {"init": ConnectionError("refused")}, "start",
                     "ConnectionError", id="init-raises"),
        pytest.param({"WANDB_API_KEY": KEY}, {"log": RuntimeError("500")}, "log_metrics",
                     "RuntimeError", id="log-raises"),
        pytest.param({"WANDB_API_KEY": KEY, "WANDB_MODE": "sideways"}, {}, "start",
                     "TrackerConfigError", id="bad-mode"),
    ],
)
def test_wandb_failures_never_kill_the_run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                           fail: dict[str, BaseException], operation: str,
                                           error_type: str) -> None:
    """Each W&B failure is recorded with its operation and type; the run still succeeds."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run = _run_with(FakeWandbClient(fail=fail))
    record = kit_track.load_run(run.run_id)
    assert record.status == "succeeded"
    assert [(e.tracker, e.operation, e.error_type) for e in record.tracker_errors] == [
        ("wandb", operation, error_type)
    ]
    assert [u.uri for u in record.outputs] == ["art://model:v3"]


def test_missing_project_is_recorded(online: None) -> None:
    """Without any project the W&B tracker fails to start with a hint, recorded."""
    tracker = WandbTracker(client=FakeWandbClient())
    with start_run(stage="s", trackers=[FileTracker(), tracker]) as run:
        pass
    (error,) = kit_track.load_run(run.run_id).tracker_errors
    assert "no W&B project configured" in error.message


def test_unreachable_server_fails_fast(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead WANDB_BASE_URL is detected by the probe in well under the init timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    tracker = WandbTracker(project="p", client=FakeWandbClient(), probe=True)
    started = time.monotonic()
    with start_run(stage="s", trackers=[FileTracker(), tracker]) as run:
        pass
    assert time.monotonic() - started < 5
    (error,) = kit_track.load_run(run.run_id).tracker_errors
    assert error.error_type == "ConnectionError" and "unreachable" in error.message


def test_hanging_init_is_abandoned() -> None:
    """call_with_deadline gives up on a hanging call and closes its late result."""
    closed: list[str] = []

    def slow_init() -> str:
        time.sleep(0.5)
        return "handle"

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="0.2 s"):
        call_with_deadline(slow_init, 0.2, on_late=closed.append)
    assert time.monotonic() - started < 0.45
    time.sleep(0.5)
    assert closed == ["handle"]


def test_rank_one_does_not_open_wandb(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only rank 0 talks to W&B."""
    monkeypatch.setenv("RANK", "1")
    client = FakeWandbClient()
    _run_with(client)
    assert client.runs == []


# -- helpers --------------------------------------------------------------------------

def test_init_wandb_without_project_does_nothing() -> None:
    """No project configured: None, and no W&B call at all."""
    client = FakeWandbClient()
    assert kit_track.init_wandb_if_configured({"lr": 1}, client=client) is None
    assert client.runs == []


def test_helpers_inside_a_run(online: None) -> None:
    """Inside a run: attach a W&B mirror, tags go everywhere, finish_wandb closes W&B only."""
    client = FakeWandbClient()
    with start_run(stage="sft", trackers=[FileTracker()]) as run:
        tracker = kit_track.init_wandb_if_configured({"wandb": {"project": "p"}}, client=client)
        assert tracker is not None and tracker in run.trackers
        assert kit_track.init_wandb_if_configured({"wandb": {"project": "p"}}) is tracker
        kit_track.add_wandb_tags("x", "y")
        kit_track.finish_wandb(0)
        run.log_metrics({"after": 1.0})
    (wb,) = client.runs
    assert wb.ops() == ["add_tags", "finish"] and wb.finished_with == 0
    assert kit_track.load_run(run.run_id).tags == ("x", "y")


def test_helpers_standalone(online: None) -> None:
    """Outside a run the helpers drive a W&B run of their own, like the earlier kit."""
    client = FakeWandbClient()
    tracker = kit_track.init_wandb_if_configured(
        {"wandb": {"project": "p", "entity": "e"}}, job_type="eval", tags=("a",), client=client
    )
    assert tracker is not None
    kit_track.add_wandb_tags("b")
    kit_track.finish_wandb(2)
    (wb,) = client.runs
    assert (wb.args.project, wb.args.entity, wb.args.job_type) == ("p", "e", "eval")
    assert wb.ops() == ["add_tags", "finish"] and wb.finished_with == 2


def test_helpers_standalone_failure_is_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """No key: init returns None with one warning naming the fix; nothing raises."""
    assert kit_track.init_wandb_if_configured({"wandb": {"project": "p"}},
                                              client=FakeWandbClient()) is None
    assert "WANDB_API_KEY" in caplog.text
    kit_track.add_wandb_tags("x")
    kit_track.finish_wandb(0)


# -- sync -----------------------------------------------------------------------------

def _offline_run(monkeypatch: pytest.MonkeyPatch) -> kit_track.Run:
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = _run_with(FakeWandbClient())
    monkeypatch.delenv("WANDB_MODE")
    return run


def test_sync_replays_and_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    """sync sends an offline run's record once; a second sync creates nothing."""
    run = _offline_run(monkeypatch)
    client = FakeWandbClient()
    report = kit_track.sync(project="proj", client=client)
    (done,) = report.synced
    assert (done.run_id, done.metrics, done.inputs, done.outputs) == (run.run_id, 1, 1, 1)
    (wb,) = client.runs
    assert wb.args.run_id == run.run_id and wb.args.mode == "online"
    assert wb.ops() == ["log", "use_artifact", "log_artifact", "finish"]
    again = kit_track.sync(project="proj", client=client)
    assert again.synced == () and again.skipped == ((run.run_id, "up to date"),)
    assert len(client.runs) == 1


def test_sync_after_online_run_sends_nothing(online: None) -> None:
    """A run mirrored live is already up to date for sync."""
    _run_with(FakeWandbClient())
    client = FakeWandbClient()
    report = kit_track.sync(project="proj", client=client)
    assert report.synced == () and client.runs == []


def test_sync_resumes_after_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync that fails on outputs is reported; the retry sends only what was missing."""
    run = _offline_run(monkeypatch)
    report = kit_track.sync(project="proj",
                            client=FakeWandbClient(fail={"log_artifact": OSError("disk")}))
    assert not report.ok and report.failed[0].run_id == run.run_id
    assert "OSError: disk" in str(report.failed[0])
    client = FakeWandbClient()
    kit_track.sync(project="proj", client=client)
    assert client.runs[0].ops() == ["log_artifact", "finish"]


def test_sync_skips_running_and_unconfigured_runs(runs_root: Path) -> None:
    """Runs still running, or with no project anywhere, are skipped with a reason."""
    FileTracker().start(kit_track.RunInfo(run_id="r-running", stage="s", name="n"))
    with start_run(stage="s", trackers=[FileTracker()]) as run:
        pass
    report = kit_track.sync(client=FakeWandbClient())
    assert dict(report.skipped) == {
        "r-running": "still running",
        run.run_id: "no W&B project (pass project= or set WANDB_PROJECT)",
    }


def test_sync_without_key_raises_credentials_error() -> None:
    """The real client path without any key raises CredentialsError naming the fix."""
    with pytest.raises(kit_track.CredentialsError, match="WANDB_API_KEY") as info:
        kit_track.sync(project="p")
    assert isinstance(info.value, PermissionError)


def test_sync_unknown_run_id() -> None:
    """Syncing a run id that does not exist raises RunNotFoundError."""
    with pytest.raises(kit_track.RunNotFoundError):
        kit_track.sync(["nope"], project="p", client=FakeWandbClient())


def test_remote_resolver_uses_client() -> None:
    """The W&B-form art:// resolver asks the client for entity/project/name:version."""
    client = FakeWandbClient(artifacts={"e/p/model:v3": "/shared/model"})
    resolve = kit_track.wandb_remote_resolver(client)
    assert resolve("e", "p", "model", "v3") == "/shared/model"
    assert client.fetched == ["e/p/model:v3"]
    with pytest.raises(kit_track.CredentialsError):
        kit_track.wandb_remote_resolver()("e", "p", "model", "v3")


def test_resolver_installation_respects_existing() -> None:
    """install_wandb_resolver keeps a resolver someone else installed unless told to replace."""
    from kit_artifacts import hooks

    def other(entity: str, project: str, name: str, version: str) -> str:
        return "/other"

    hooks.register_remote_resolver(other)
    try:
        assert kit_track.install_wandb_resolver(FakeWandbClient()) is False
        assert hooks.get_remote_resolver() is other
        client = FakeWandbClient(artifacts={"e/p/n:v1": "/mine"})
        assert kit_track.install_wandb_resolver(client, replace=True) is True
        resolver = hooks.get_remote_resolver()
        assert resolver is not None and resolver("e", "p", "n", "v1") == "/mine"
    finally:
        hooks.register_remote_resolver(None)


class _HangingClient(FakeWandbClient):
    """A W&B client whose init never answers in time (a server that accepts and stalls)."""

    def init(self, args: kit_track.WandbInitArgs) -> kit_track.WandbRunHandle:
        time.sleep(4)
        return super().init(args)


def test_stalled_init_is_bounded(online: None) -> None:
    """A W&B init that stalls costs at most timeout_s + 2 s; the run goes on without W&B."""
    client = _HangingClient()
    tracker = WandbTracker(project="p", client=client, timeout_s=0.1)
    started = time.monotonic()
    with start_run(stage="s", trackers=[FileTracker(), tracker]) as run:
        run.log_metrics({"x": 1.0})
    assert time.monotonic() - started < 3.5
    (error,) = kit_track.load_run(run.run_id).tracker_errors
    assert (error.operation, error.error_type) == ("start", "TimeoutError")
    time.sleep(3)  # the late init is closed by the deadline helper, never used
    assert [r.finished_with for r in client.runs] == [1]
