"""Pretraining through Megatron-Core on CPU: loss falls, the checkpoint is a real torch_dist one,
kill -9 resumes on the same loss curve, and two gloo processes train data-parallel."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_nano3_mcore.conftest import (
    RUN_TIMEOUT,
    child_env,
    run_spec,
    start_run,
    step_losses,
    train,
)


def test_loss_falls_and_checkpoint_is_torch_dist(straight_run: Path) -> None:
    """Held-out loss drops well below its start; the last save is a torch_dist folder with the
    model config beside it and the tracker names it."""
    result = json.loads((straight_run / "result.json").read_text())
    assert result["completed"] and result["step"] == 20
    assert result["final_loss"] < result["metadata"]["initial_loss"] - 1.0
    ckpt = Path(result["checkpoint"])
    assert ckpt.name == "iter_0000020"
    assert {"metadata.json", "common.pt", ".metadata", "model_config.json"} <= {
        p.name for p in ckpt.iterdir()}
    assert (ckpt.parent / "latest_checkpointed_iteration.txt").read_text() == "20"
    info = json.loads((ckpt / "model_config.json").read_text())
    assert info["model"]["vocab_size"] == 257 and info["format"] == "torch_dist"


def test_fresh_model_loads_checkpoint_with_same_eval_loss(straight_run: Path,
                                                          blend_path: Path) -> None:
    """Megatron-Core's own dist_checkpointing.load into a freshly built GPTModel gives the eval
    loss that training reported at the end."""
    result = json.loads((straight_run / "result.json").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "test_nano3_mcore._eval_probe", result["checkpoint"],
         str(blend_path), str(straight_run / "spec.json")],
        env=child_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert out.returncode == 0, out.stderr[-4000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])["eval_loss"]
    assert loaded == pytest.approx(result["final_loss"], abs=1e-5)


def test_kill_9_resume_continues_the_same_loss_curve(straight_run: Path, blend_path: Path,
                                                     tmp_path: Path) -> None:
    """Kill -9 after the first save; the resumed run's losses equal the uninterrupted run's."""
    spec = run_spec(tmp_path / "run", blend_path)
    proc = start_run(spec)
    tracker = tmp_path / "run/checkpoints/latest_checkpointed_iteration.txt"
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while not tracker.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tracker.is_file(), (tmp_path / "run/log.txt").read_text()[-4000:]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = int(tracker.read_text())
    assert killed_at < 20
    resumed = train(spec)
    assert resumed["metadata"]["resumed_from_step"] == killed_at
    want, got = step_losses(straight_run), step_losses(tmp_path / "run")
    after = list(range(killed_at + 1, 21))
    assert [got[s] for s in after] == pytest.approx([want[s] for s in after], rel=1e-5)
    assert resumed["final_loss"] == pytest.approx(
        json.loads((straight_run / "result.json").read_text())["final_loss"], rel=1e-5)


def test_two_gloo_processes_train_data_parallel(straight_run: Path, blend_path: Path,
                                                tmp_path: Path) -> None:
    """torchrun x2 at the same global batch (2 x 4 = 8) follows the one-process loss curve; only
    rank 0 writes metrics, the result and the model config."""
    spec = run_spec(tmp_path / "dp", blend_path, micro_batch_size=4, checkpoint_every=3)
    spec["stop_at_step"] = 3
    result = train(spec, nproc=2)
    assert result["metadata"]["world_size"] == 2 and result["step"] == 3
    rows = [json.loads(x) for x in (tmp_path / "dp/metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "train/loss" in r]
    assert steps == [1, 2, 3]  # one writer: no step logged twice
    want, got = step_losses(straight_run), step_losses(tmp_path / "dp")
    assert [got[s] for s in (1, 2, 3)] == pytest.approx([want[s] for s in (1, 2, 3)], rel=1e-4)
    assert (tmp_path / "dp/checkpoints/iter_0000003/model_config.json").is_file()
