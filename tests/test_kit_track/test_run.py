"""start_run: statuses, run ids, ranks, tracker selection and the failure policy."""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

import kit_track
from kit_artifacts import hooks
from kit_track import FakeTracker, FileTracker, start_run


def _file_and_fake(**fail: BaseException) -> tuple[FileTracker, FakeTracker]:
    return FileTracker(), FakeTracker(fail=fail)


def test_success_records_everything(runs_root: Path) -> None:
    """A normal run has an id of the documented form and a succeeded record with metrics."""
    file, fake = _file_and_fake()
    with start_run(stage="pretrain", config={"lr": 0.1}, tags=("a", "a", "b"),
                   trackers=[file, fake], argv=["train.py", "lr=0.1"]) as run:
        assert kit_track.current_run() is run
        assert os.environ["NEMOTRON_RUN_ID"] == run.run_id
        run.log_metrics({"loss": 1.5}, step=3)
        run.add_tags("c")
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run.run_id)
    assert "NEMOTRON_RUN_ID" not in os.environ
    record = kit_track.load_run(run.run_id)
    assert record.status == "succeeded" and record.exit_code == 0
    assert record.tags == ("a", "b", "c") and record.argv == ("train.py", "lr=0.1")
    assert record.config == {"lr": 0.1} and (record.config_digest or "").startswith("sha256:")
    assert fake.operations() == ["start", "log_metrics", "add_tags", "finish"]
    assert run.summary is not None and run.summary.tracker_errors == ()


@pytest.mark.parametrize(
    ("raise_", "status", "code", "exc"),
    [
        pytest.param(RuntimeError("boom"), "failed", 1, RuntimeError, id="exception"),
        pytest.param(SystemExit(3), "failed", 3, SystemExit, id="sys-exit-3"),
        pytest.param(SystemExit(0), "succeeded", 0, SystemExit, id="sys-exit-0"),
        pytest.param(KeyboardInterrupt(), "cancelled", 130, KeyboardInterrupt, id="ctrl-c"),
    ],
)
def test_block_outcome_sets_status(runs_root: Path, raise_: BaseException, status: str,
                                   code: int, exc: type[BaseException]) -> None:
    """How the block ends decides the recorded status and exit code; the error propagates."""
    with pytest.raises(exc), start_run(stage="s", trackers=[FileTracker()]) as run:
        raise raise_
    record = kit_track.load_run(run.run_id)
    assert (record.status, record.exit_code) == (status, code)


def test_runs_do_not_nest(runs_root: Path) -> None:
    """A second start_run inside an active one raises RunStateError naming the active run."""
    with start_run(stage="a", trackers=[FakeTracker()]) as outer:
        with pytest.raises(kit_track.RunStateError, match=outer.run_id) as info, start_run(
            stage="b", trackers=[FakeTracker()]
        ):
            pass
        assert isinstance(info.value, RuntimeError)


def test_env_run_id_is_used(monkeypatch: pytest.MonkeyPatch, runs_root: Path) -> None:
    """NEMOTRON_RUN_ID (set by the submitter) becomes the run id, and stays set after."""
    monkeypatch.setenv("NEMOTRON_RUN_ID", "job-42")
    with start_run(stage="s", trackers=[FileTracker()]) as run:
        pass
    assert run.run_id == "job-42" and (runs_root / "job-42" / "run.json").is_file()
    assert os.environ["NEMOTRON_RUN_ID"] == "job-42"


@pytest.mark.parametrize(
    ("kwargs", "env", "match"),
    [
        pytest.param({"run_id": "../x"}, {}, "run_id", id="run-id-path"),
        pytest.param({}, {"NEMOTRON_RUN_ID": "a b"}, "NEMOTRON_RUN_ID", id="env-run-id-space"),
        pytest.param({"stage": ""}, {}, "stage", id="empty-stage"),
        pytest.param({}, {"NEMOTRON_TRACKERS": "file,comet"}, "comet", id="unknown-tracker"),
    ],
)
def test_bad_run_settings(monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, str],
                          env: dict[str, str], match: str) -> None:
    """Invalid run ids, stages and tracker names raise TrackerConfigError before any write."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = {"stage": "s", **kwargs}
    with pytest.raises(kit_track.TrackerConfigError, match=match) as info, start_run(
        **args  # type: ignore[arg-type]
    ):
        pass
    assert isinstance(info.value, ValueError)
    assert not (Path(os.environ["NEMOTRON_HOME"]) / "runs").exists()
    assert kit_track.current_run() is None


def test_rank_one_writes_no_record(monkeypatch: pytest.MonkeyPatch, runs_root: Path) -> None:
    """On RANK=1 only per-rank metrics are written; the run record is rank 0's job."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("NEMOTRON_RUN_ID", "shared-id")
    with start_run(stage="s", trackers=[FileTracker()]) as run:
        run.log_metrics({"loss": 1.0}, step=1)
        assert not run.is_rank_zero
    assert sorted(p.name for p in (runs_root / "shared-id").iterdir()) == ["metrics.rank1.jsonl"]


def test_slurm_procid_is_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RANK, SLURM_PROCID gives the rank; SLURM_NTASKS the world size."""
    monkeypatch.setenv("SLURM_PROCID", "2")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    with start_run(stage="s", trackers=[FakeTracker()]) as run:
        pass
    assert (run.info.rank, run.info.world_size) == (2, 4)


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        pytest.param({}, {}, ["file"], id="file-only"),
        pytest.param({"wandb": {"project": "p"}}, {}, ["file", "wandb"], id="wandb-config"),
        pytest.param({}, {"WANDB_PROJECT": "p"}, ["file", "wandb"], id="wandb-env"),
        pytest.param({}, {"WANDB_PROJECT": "p", "WANDB_MODE": "disabled"}, ["file"],
                     id="wandb-disabled"),
        pytest.param({"mlflow": {"tracking_uri": "sqlite:///x.db"}}, {}, ["file", "mlflow"],
                     id="mlflow-config"),
        pytest.param({}, {"NEMOTRON_TRACKERS": "noop"}, ["noop"], id="explicit-noop"),
    ],
)
def test_default_tracker_selection(config: dict[str, object], env: dict[str, str],
                                   expected: list[str]) -> None:
    """The default trackers follow the config and environment as documented."""
    names = [t.name for t in kit_track.trackers_from_settings(config, env)]
    assert names == expected


def test_secrets_never_reach_the_record(monkeypatch: pytest.MonkeyPatch, runs_root: Path) -> None:
    """Secret config keys are masked and secret env values are cut from argv and errors."""
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", secret)
    failing = FakeTracker("remote", fail={"start": RuntimeError(f"auth failed for {secret}")})
    with start_run(stage="s", config={"wandb": {"api_key": secret}, "tokenizer": "gpt2"},
                   argv=["train.py", f"hf_token={secret}"],
                   trackers=[FileTracker(), failing]) as run:
        pass
    text = "".join(p.read_text() for p in Path(run.run_dir or "").iterdir())
    assert secret not in text
    record = kit_track.load_run(run.run_id)
    assert record.config == {"wandb": {"api_key": "***"}, "tokenizer": "gpt2"}
    assert record.argv == ("train.py", "hf_token=***")


def test_failing_tracker_is_logged_once_recorded_and_summarised(
    runs_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracker raising on every metric never stops the run, warns once, is in the record."""
    file, fake = _file_and_fake(log_metrics=ConnectionError("W&B down"))
    with caplog.at_level(logging.INFO, logger="kit_track"), start_run(
        stage="s", trackers=[file, fake]
    ) as run:
        for step in range(5):
            run.log_metrics({"loss": float(step)}, step=step)
    warnings = [r for r in caplog.records if "W&B down" in r.getMessage()]
    assert len(warnings) == 2  # the first failure, and the finish summary
    assert "1 tracker error(s)" in warnings[-1].getMessage()
    record = kit_track.load_run(run.run_id)
    assert record.status == "succeeded" and len(record.metrics()) == 5
    (error,) = record.tracker_errors
    assert (error.tracker, error.operation, error.count) == ("fake", "log_metrics", 5)
    assert error.error_type == "ConnectionError"
    errors_file = Path(run.run_dir or "") / "errors.jsonl"
    assert json.loads(errors_file.read_text().splitlines()[0])["operation"] == "log_metrics"
    assert fake.errors == list(record.tracker_errors)  # FakeTracker is an ErrorSink too


def test_tracker_failing_at_start_is_disabled(runs_root: Path) -> None:
    """A tracker whose start fails gets no further calls, and the run still succeeds."""
    file, fake = _file_and_fake(start=TimeoutError("no answer"))
    with start_run(stage="s", trackers=[file, fake]) as run:
        run.log_metrics({"x": 1.0})
    assert fake.operations() == ["start"]
    assert kit_track.load_run(run.run_id).tracker_errors[0].operation == "start"


def test_file_tracker_failure_is_still_reported(runs_root: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Even the record itself failing (unwritable dir) is logged and in the summary."""
    runs_root.parent.mkdir(exist_ok=True)
    blocker = runs_root.parent / "blocked"
    blocker.write_text("a file where a directory should be")
    with start_run(stage="s", trackers=[FileTracker(blocker)]) as run:
        pass
    assert run.summary is not None
    assert [e.tracker for e in run.summary.tracker_errors] == ["file"]
    assert "tracker file failed in start" in caplog.text


def test_producer_provider_installed_and_removed() -> None:
    """During the run kit-artifacts sees this run as producer; after it, the implicit run."""
    with start_run(stage="s", config={"a": 1}, trackers=[FakeTracker()]) as run:
        producer = hooks.current_producer()
        assert producer.run_id == run.run_id
        assert producer.config_digest == run.info.config_digest
    assert hooks.current_producer().run_id.startswith("implicit-")


def test_attach_replays_lineage(runs_root: Path) -> None:
    """A tracker attached mid-run receives the inputs and outputs recorded so far."""
    with start_run(stage="s", trackers=[FileTracker()]) as run:
        run.log_input("art://d:v1", artifact_type="T", path="/d")
        late = FakeTracker()
        run.attach(late)
        run.log_output("art://m:v1", artifact_type="T", path="/m")
    late.assert_lineage(inputs=("art://d:v1",), outputs=("art://m:v1",))
    with pytest.raises(kit_track.RunStateError, match="already finished"):
        run.attach(FakeTracker())


def test_explicit_finish_wins(runs_root: Path) -> None:
    """run.finish() inside the block sets the status; leaving the block does not redo it."""
    fake = FakeTracker()
    with start_run(stage="s", trackers=[fake]) as run:
        summary = run.finish("cancelled", 143)
    assert summary.status == "cancelled" and fake.operations().count("finish") == 1


def test_sigterm_marks_run_cancelled(runs_root: Path) -> None:
    """scancel/preemption (SIGTERM) ends the run as cancelled (143), not stuck `running`."""
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import time, kit_track\n"
        "with kit_track.start_run(stage='s', trackers=[kit_track.FileTracker()]) as r:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
    )
    env = dict(os.environ, NEMOTRON_RUN_ID="term-1")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert proc.wait(timeout=30) == 143
    assert time.monotonic() - started < 30
    record = kit_track.load_run("term-1")
    assert (record.status, record.exit_code) == ("cancelled", 143)


def test_metrics_after_finish_are_dropped_with_warning(
    runs_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Logging after the run finished writes nothing and warns once."""
    fake = FakeTracker()
    with start_run(stage="s", trackers=[fake]) as run:
        pass
    run.log_metrics({"x": 1.0})
    run.log_metrics({"x": 2.0})
    assert fake.metrics == []
    assert caplog.text.count("metrics after finish are dropped") == 1
