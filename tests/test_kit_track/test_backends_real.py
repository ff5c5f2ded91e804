"""The real backends on this machine: W&B offline mode, W&B against a dead server, MLflow
with a SQLite store in a temp dir. No network, no server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kit_track
from kit_track import FileTracker, MlflowTracker, WandbTracker, start_run

KEY = "local-0123456789abcdef0123456789abcdef0123"


def _all_bytes(*roots: Path) -> bytes:
    return b"".join(p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file())


def test_wandb_offline_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline W&B holds the metrics and the logged artifact; no file holds the API key."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    model = tmp_path / "ckpt"
    model.mkdir()
    (model / "w.bin").write_bytes(b"w")
    tracker = WandbTracker(project="kit-test", timeout_s=30)
    with start_run(stage="pretrain", config={"lr": 0.5, "wandb": {"api_key": KEY}},
                   argv=["train.py", f"wandb.api_key={KEY}"],
                   trackers=[FileTracker(), tracker]) as run:
        run.log_input("art://data:v1", artifact_type="PretrainBlendsArtifact", path=str(model))
        for step in range(3):
            run.log_metrics({"loss": 3.0 - step}, step=step)
        run.log_output("art://model:v1", artifact_type="ModelArtifact", path=str(model))
    record = kit_track.load_run(run.run_id)
    assert record.tracker_errors == (), record.tracker_errors
    wandb_root = Path(tmp_path / "wandb")
    (offline_dir,) = list(wandb_root.rglob(f"offline-run-*-{run.run_id}"))
    (log_file,) = list(offline_dir.glob("*.wandb"))
    deadline = time.monotonic() + 20  # wandb-core flushes the offline log asynchronously
    while b"kit-v1" not in log_file.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.2)
    data = log_file.read_bytes()
    assert b"loss" in data and b"art://model:v1" in data and b"kit-v1" in data
    pending = (Path(run.run_dir or "") / "wandb_pending.jsonl").read_text()
    assert "art://data:v1" in pending
    home = Path(str(run.run_dir)).parent.parent
    assert KEY.encode() not in _all_bytes(home, wandb_root)


def test_wandb_unreachable_real(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key and a dead server the real tracker gives up in seconds, run unharmed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    started = time.monotonic()
    with start_run(stage="s", trackers=[FileTracker(), WandbTracker(project="p")]) as run:
        run.log_metrics({"x": 1.0})
    assert time.monotonic() - started < 5
    record = kit_track.load_run(run.run_id)
    assert record.status == "succeeded" and len(record.metrics()) == 1
    assert record.tracker_errors[0].operation == "start"


def test_mlflow_sqlite_real(tmp_path: Path) -> None:
    """The run lands in MLflow: params, metrics, dataset input, logged-model output, status."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(tracking_uri=uri, experiment="kit-test")
    with start_run(stage="sft", config={"optim": {"lr": 0.1}, "layers": [1, 2]},
                   tags=("nano3",), trackers=[FileTracker(), tracker]) as run:
        run.log_input("art://data:v2", artifact_type="SFTDataArtifact", path="/d")
        run.log_metrics({"loss": 1.25}, step=7)
        run.log_output("art://model:v1", artifact_type="ModelArtifact", path="/m")
        run.log_output("art://stats:v1", artifact_type="Artifact", path="/s")
    assert kit_track.load_run(run.run_id).tracker_errors == ()
    client = MlflowClient(tracking_uri=uri)
    got = client.get_run(tracker.mlflow_run_id or "")
    assert got.info.status == "FINISHED"
    assert got.data.params == {"optim.lr": "0.1", "layers": "[1, 2]"}
    assert got.data.metrics == {"loss": 1.25}
    assert got.data.tags["nemotron.run_id"] == run.run_id and got.data.tags["tag.nano3"] == "true"
    assert got.data.tags["nemotron.output.stats"] == "art://stats:v1"
    assert got.inputs is not None and got.outputs is not None
    (dataset_input,) = got.inputs.dataset_inputs
    assert dataset_input.dataset.name == "data" and "art://data:v2" in dataset_input.dataset.source
    model = client.get_logged_model(tracker.model_ids["art://model:v1"])
    assert model.source_run_id == tracker.mlflow_run_id and model.name == "model"
    assert [o.model_id for o in got.outputs.model_outputs] == [model.model_id]
    assert not (Path.cwd() / "mlruns").exists() or (tmp_path / "mlartifacts").exists()


def test_mlflow_failed_run_status(tmp_path: Path) -> None:
    """A failing block marks the MLflow run FAILED."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(tracking_uri=uri)
    with pytest.raises(ValueError), start_run(stage="s", trackers=[tracker]):
        raise ValueError("bad batch")
    assert MlflowClient(tracking_uri=uri).get_run(tracker.mlflow_run_id or "").info.status == (
        "FAILED"
    )


def test_wandb_offline_secret_in_argv_real(tmp_path: Path) -> None:
    """A key passed on the command line reaches neither W&B's files nor the run record."""
    code = (
        "import kit_track\n"
        "t = kit_track.WandbTracker(project='kit-test', timeout_s=30)\n"
        "with kit_track.start_run(stage='s', trackers=[kit_track.FileTracker(), t]) as r:\n"
        "    r.log_metrics({'loss': 1.0}, step=1)\n"
    )
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_API_KEY": KEY}
    subprocess.run([sys.executable, "-c", code, f"wandb.api_key={KEY}"], env=env, check=True,
                   timeout=120)
    roots = [Path(os.environ["NEMOTRON_HOME"]), Path(os.environ["WANDB_DIR"])]
    assert any(p.suffix == ".wandb" for p in roots[1].rglob("*"))
    assert KEY.encode() not in _all_bytes(*roots)
