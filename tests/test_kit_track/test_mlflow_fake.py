"""MlflowTracker's mapping of the run record, against the in-library fake backend."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

import kit_track
from kit_track import FakeMlflowBackend, FileTracker, MlflowTracker, start_run


def test_record_maps_to_mlflow_calls() -> None:
    """Params flattened, dataset input, logged model for models, tags for other outputs."""
    backend = FakeMlflowBackend()
    tracker = MlflowTracker(experiment="exp", backend=backend)
    with start_run(stage="rl", config={"a": {"b": 1}, "c": "x"}, tags=("t",),
                   trackers=[tracker]) as run:
        run.log_input("art://data:v1", artifact_type="SplitJsonlDataArtifact", path="/d")
        run.log_metrics({"reward": 0.5})
        run.log_output("art://policy:v2", artifact_type="ModelArtifact", path="/p")
        run.log_output("hf://datasets/x", artifact_type="Artifact", path="")
    assert backend.ops() == [
        "open_run", "log_params", "log_dict", "log_dataset_input", "log_metrics",
        "log_dict", "log_model_output", "log_dict", "set_tag", "set_tag", "terminate",
    ]
    opened = backend.calls[0][1]
    assert opened["experiment"] == "exp" and opened["tags"]["nemotron.run_id"] == run.run_id
    assert opened["tags"]["tag.t"] == "true"
    assert backend.calls[1][1]["params"] == {"a.b": "1", "c": "x"}
    dataset = backend.calls[3][1]
    assert dataset["name"] == "data" and json.loads(dataset["source"])["uri"] == "art://data:v1"
    assert backend.calls[4][1]["step"] == 0
    model = backend.calls[6][1]
    assert (model["name"], model["model_type"]) == ("policy", "ModelArtifact")
    assert tracker.model_ids == {"art://policy:v2": "m-policy"}
    assert backend.calls[8][1]["key"] == "nemotron.output.hf-datasets-x"
    assert backend.calls[-1][1]["status"] == "FINISHED"


@pytest.mark.parametrize(
    ("raise_", "status"),
    [
        pytest.param(None, "FINISHED", id="succeeded"),
        pytest.param(RuntimeError("x"), "FAILED", id="failed"),
        pytest.param(KeyboardInterrupt(), "KILLED", id="cancelled"),
    ],
)
def test_status_mapping(raise_: BaseException | None, status: str) -> None:
    """Kit statuses map to MLflow's FINISHED, FAILED and KILLED."""
    backend = FakeMlflowBackend()
    expect = pytest.raises(BaseException) if raise_ else contextlib.nullcontext()
    with expect, start_run(stage="s", trackers=[MlflowTracker(backend=backend)]):
        if raise_ is not None:
            raise raise_
    assert backend.calls[-1] == ("terminate", {"run_id": "run1", "status": status})


def test_backend_failure_is_recorded(runs_root: Path) -> None:
    """An MLflow failure is recorded in the run record; the run succeeds."""
    backend = FakeMlflowBackend(fail={"log_metrics": OSError("database is locked")})
    with start_run(stage="s", trackers=[FileTracker(), MlflowTracker(backend=backend)]) as run:
        run.log_metrics({"x": 1.0})
    (error,) = kit_track.load_run(run.run_id).tracker_errors
    assert (error.tracker, error.operation, error.error_type) == ("mlflow", "log_metrics",
                                                                 "OSError")


def test_other_ranks_do_not_touch_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only rank 0 opens an MLflow run."""
    monkeypatch.setenv("RANK", "2")
    backend = FakeMlflowBackend()
    with start_run(stage="s", trackers=[MlflowTracker(backend=backend)]) as run:
        run.log_metrics({"x": 1.0})
    assert backend.calls == []

