"""FileTracker: the run directory, rank safety, and reading records back."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit_config
import kit_track
from kit_track import FileTracker, RunInfo


def _info(run_id: str = "20260101-000000-abcdef", rank: int = 0, **kw: object) -> RunInfo:
    return RunInfo(run_id=run_id, stage="pretrain", name="pretrain-x", rank=rank,
                   started_at="2026-01-01T00:00:00+00:00", **kw)  # type: ignore[arg-type]


def test_run_directory_layout(tmp_path: Path) -> None:
    """Rank 0 writes run.json, inputs, outputs and metrics as JSON lines."""
    tracker = FileTracker(tmp_path)
    tracker.start(_info(config={"lr": 0.1}, tags=("a",), argv=("train.py", "lr=0.1")))
    tracker.log_input("art://data:v1", artifact_type="PretrainBlendsArtifact", path="/d")
    tracker.log_output("art://model:v1", artifact_type="ModelArtifact", path="/m")
    tracker.log_metrics({"loss": 2.5}, step=10)
    tracker.finish("succeeded", 0)
    run_dir = tmp_path / "20260101-000000-abcdef"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["config"] == {"lr": 0.1} and record["argv"] == ["train.py", "lr=0.1"]
    assert record["finished_at"] and record["attempt"] == 1
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["step"] == 10 and metrics[0]["metrics"] == {"loss": 2.5}
    loaded = kit_track.load_run("20260101-000000-abcdef", root=tmp_path)
    assert [u.uri for u in loaded.inputs] == ["art://data:v1"]
    assert [u.uri for u in loaded.outputs] == ["art://model:v1"]
    assert loaded.metrics()[0].metrics == {"loss": 2.5}


def test_other_ranks_write_only_per_rank_metrics(tmp_path: Path) -> None:
    """Rank 3 never writes run.json/inputs/outputs; its metrics go to metrics.rank3.jsonl."""
    rank0, rank3 = FileTracker(tmp_path), FileTracker(tmp_path)
    rank0.start(_info())
    rank3.start(_info(rank=3))
    rank3.log_input("art://data:v1", artifact_type="X", path="/d")
    rank3.log_output("art://model:v1", artifact_type="X", path="/m")
    rank3.log_metrics({"loss": 1.0}, step=1)
    rank0.log_metrics({"loss": 2.0}, step=1)
    rank3.finish("failed", 1)
    rank0.finish("succeeded", 0)
    run_dir = tmp_path / "20260101-000000-abcdef"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "metrics.jsonl", "metrics.rank3.jsonl", "run.json",
    ]
    record = kit_track.load_run("20260101-000000-abcdef", root=tmp_path)
    assert record.status == "succeeded"
    assert record.metrics(rank=3)[0].metrics == {"loss": 1.0}


def test_requeued_run_counts_attempts(tmp_path: Path) -> None:
    """Starting the same run id again (a requeued job) keeps the record and bumps attempt."""
    for _ in range(2):
        tracker = FileTracker(tmp_path)
        tracker.start(_info())
        tracker.finish("succeeded")
    assert kit_track.load_run("20260101-000000-abcdef", root=tmp_path).attempt == 2


def test_non_finite_metrics_stay_valid_json(tmp_path: Path) -> None:
    """NaN and inf are stored as strings, so metrics.jsonl stays standard JSON."""
    tracker = FileTracker(tmp_path)
    tracker.start(_info())
    tracker.log_metrics({"loss": float("nan"), "grad": float("inf")})
    text = (tmp_path / "20260101-000000-abcdef" / "metrics.jsonl").read_text()
    assert json.loads(text)["metrics"] == {"loss": "nan", "grad": "inf"}
    assert "NaN" not in text


def test_use_before_start_is_an_error(tmp_path: Path) -> None:
    """Logging before start() raises RunStateError (a bug in the caller, not a backend)."""
    with pytest.raises(kit_track.RunStateError, match="before start"):
        FileTracker(tmp_path).log_metrics({"x": 1.0})


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    """A metrics line cut short by a killed writer is ignored when reading."""
    tracker = FileTracker(tmp_path)
    tracker.start(_info())
    tracker.log_metrics({"a": 1.0}, step=1)
    with (tmp_path / "20260101-000000-abcdef" / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 2, "metr')
    record = kit_track.load_run("20260101-000000-abcdef", root=tmp_path)
    assert [p.step for p in record.metrics()] == [1]


def _write_bad(run_dir: Path, name: str, text: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / name).write_text(text)


GOOD_RUN = json.dumps({"run_id": "r1", "stage": "s", "status": "running", "started_at": "t"})


@pytest.mark.parametrize(
    ("files", "match"),
    [
        pytest.param({"run.json": "{not json"}, r"run\.json:1 is invalid", id="run-json-syntax"),
        pytest.param({"run.json": "[1, 2]"}, "expected a JSON object", id="run-json-not-object"),
        pytest.param({"run.json": '{"run_id": "r1"}'}, "missing field", id="missing-fields"),
        pytest.param({"run.json": GOOD_RUN, "inputs.jsonl": "{bad\n{}\n"}, r"inputs\.jsonl:1",
                     id="inputs-bad-line"),
        pytest.param({"run.json": GOOD_RUN, "outputs.jsonl": '{"path": "/x"}\n'},
                     "without 'uri'", id="output-without-uri"),
        pytest.param({"run.json": GOOD_RUN, "inputs.jsonl": "[1]\n{}\n"}, "JSON object per line",
                     id="inputs-line-not-object"),
    ],
)
def test_malformed_records_raise_with_location(tmp_path: Path, files: dict[str, str],
                                               match: str) -> None:
    """Each malformed record file gives RunRecordError naming the file (and line)."""
    for name, text in files.items():
        _write_bad(tmp_path / "r1", name, text)
    with pytest.raises(kit_track.RunRecordError, match=match) as info:
        kit_track.load_run("r1", root=tmp_path)
    assert "r1" in info.value.path
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("run_id", [
    pytest.param("nope", id="absent"),
    pytest.param("../etc", id="path-escape"),
    pytest.param("", id="empty"),
])
def test_unknown_run_lists_recent_ids(tmp_path: Path, run_id: str) -> None:
    """load_run of a missing id raises RunNotFoundError with the known ids and a hint."""
    tracker = FileTracker(tmp_path)
    tracker.start(_info())
    with pytest.raises(kit_track.RunNotFoundError) as info:
        kit_track.load_run(run_id, root=tmp_path)
    assert info.value.known == ("20260101-000000-abcdef",)
    assert "nemotron runs ls" in str(info.value) and "\n" not in str(info.value)


def test_list_runs_skips_corrupt_and_filters_stage(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """list_runs returns readable runs oldest first, logs corrupt ones, filters by stage."""
    FileTracker(tmp_path).start(_info("20260101-000000-aaaaaa"))
    FileTracker(tmp_path).start(RunInfo(run_id="20260102-000000-bbbbbb", stage="sft", name="n"))
    _write_bad(tmp_path / "20260103-000000-cccccc", "run.json", "{")
    runs = kit_track.list_runs(root=tmp_path)
    assert [r.run_id for r in runs] == ["20260101-000000-aaaaaa", "20260102-000000-bbbbbb"]
    assert "skipping run 20260103-000000-cccccc" in caplog.text
    assert [r.run_id for r in kit_track.list_runs(root=tmp_path, stage="sft")] == [
        "20260102-000000-bbbbbb"
    ]


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(
    allow_nan=False, allow_infinity=False
)
configs = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: not kit_config.is_secret_key(k)),
    st.recursive(json_scalars, lambda c: st.lists(c, max_size=3)
                 | st.dictionaries(st.sampled_from(["a", "b", "c"]), c, max_size=3),
                 max_leaves=10),
    max_size=5,
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    config=configs,
    metrics=st.lists(st.tuples(st.none() | st.integers(0, 10**6),
                               st.dictionaries(st.text(min_size=1, max_size=8),
                                               st.floats(allow_nan=False, allow_infinity=False),
                                               max_size=3)), max_size=5),
    tags=st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True),
)
def test_record_round_trip(tmp_path_factory: pytest.TempPathFactory, config: dict[str, object],
                           metrics: list[tuple[int | None, dict[str, float]]],
                           tags: list[str]) -> None:
    """Whatever config, tags and metrics FileTracker writes, load_run reads back equal."""
    root = tmp_path_factory.mktemp("rt")
    tracker = FileTracker(root)
    tracker.start(_info(config=config, tags=tuple(tags)))
    for step, values in metrics:
        tracker.log_metrics(values, step=step)
    tracker.finish("cancelled", 130)
    record = kit_track.load_run("20260101-000000-abcdef", root=root)
    assert record.config == config
    assert record.tags == tuple(tags)
    assert [(p.step, p.metrics) for p in record.metrics()] == list(metrics)
    assert (record.status, record.exit_code) == ("cancelled", 130)
