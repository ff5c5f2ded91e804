"""Pretraining on Megatron-Core: loss falls, the save is a real torch_dist checkpoint that a fresh
GPTModel loads, resume is exact (also after kill -9), the resume guard's advice works, and bad
data or settings fail before training."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from kit_artifacts import PretrainBlendsArtifact
from nano3.stages import DataFormatError, PrintMetrics, StageConfigError
from nano3.stages._config import ModelConfig, OptimizerConfig, PretrainConfig, TrainerConfig
from nano3.stages._pretrain import run_pretrain

from .conftest import (
    RUN_TIMEOUT,
    ChildError,
    child_env,
    load_typed,
    run_losses,
    train_in_child,
    typed,
)

TINY_MODEL = ModelConfig(vocab_size=257, seq_length=32, num_layers=2, hidden_size=32,
                         num_attention_heads=4, ffn_hidden_size=64)


def tiny_pretrain(data: Path, out: Path, **trainer: object) -> PretrainConfig:
    """A pretrain config small enough for a few seconds on one CPU thread."""
    t = {"max_steps": 20, "micro_batch_size": 8, "log_every": 1, "checkpoint_every": 10,
         "num_threads": 1, "eval_batches": 2, "keep_checkpoints": 5, **trainer}
    return PretrainConfig(data=load_typed(PretrainBlendsArtifact, data), output_dir=str(out),
                          model=TINY_MODEL,
                          optimizer=OptimizerConfig(lr=5e-3, min_lr=5e-4, warmup_steps=2),
                          trainer=TrainerConfig(**t))  # type: ignore[arg-type]


def test_loss_falls_and_the_save_is_torch_dist(pretrain_data: Path, tmp_path: Path) -> None:
    """Held-out loss drops; the run folder is Megatron's layout: the tracker names the last
    save, a torch_dist folder with the model config beside its shards."""
    res = train_in_child("pretrain", tiny_pretrain(pretrain_data, tmp_path / "out")).result
    assert res.completed and res.step == 20
    assert res.final_loss < res.metadata["initial_loss"] - 1.0
    assert res.metadata["backend"] == "megatron-core" and res.metadata["tokens_per_sec"] > 0
    root = Path(res.checkpoint)
    assert root == tmp_path / "out" / "checkpoints"
    assert (root / "latest_checkpointed_iteration.txt").read_text() == "20"
    save = root / "iter_0000020"
    assert {"metadata.json", "common.pt", ".metadata", "model_config.json"} <= {
        p.name for p in save.iterdir()}
    info = json.loads((save / "model_config.json").read_text())
    assert info["model"] == attrs.asdict(TINY_MODEL)
    assert (info["format"], info["tokenizer"]) == ("torch_dist", "bytes")


def test_resume_is_exact(pretrain_data: Path, tmp_path: Path) -> None:
    """Stopping after the step-10 save and resuming gives the straight run's losses."""
    straight = train_in_child("pretrain", tiny_pretrain(pretrain_data, tmp_path / "a"))
    cfg = tiny_pretrain(pretrain_data, tmp_path / "b")
    part = train_in_child("pretrain", cfg, stop_at_step=10)
    assert not part.result.completed and part.result.step == 10
    resumed = train_in_child("pretrain", cfg)
    assert resumed.result.metadata["resumed_from_step"] == 10
    want, got = straight.losses(), resumed.losses()
    assert sorted(got) == list(range(11, 21))
    assert [got[s] for s in got] == pytest.approx([want[s] for s in got], rel=1e-5)
    assert resumed.result.final_loss == pytest.approx(straight.result.final_loss, rel=1e-5)
    # The first eval is kept across the restart (saved with the model).
    assert resumed.result.metadata["initial_loss"] == straight.result.metadata["initial_loss"]


def test_resume_guard_refuses_other_settings_and_its_advice_works(pretrain_data: Path,
                                                                  tmp_path: Path) -> None:
    """A save made under another learning rate is not resumed; `trainer.resume=false`, as the
    error advises, starts over and the older run's saves are gone."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out", max_steps=12, checkpoint_every=6)
    train_in_child("pretrain", cfg)
    other = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer, lr=1e-3),
                         trainer=attrs.evolve(cfg.trainer, max_steps=6))
    with pytest.raises(ChildError, match="different training settings") as info:
        train_in_child("pretrain", other)
    assert info.value.type_name == "CheckpointError"
    assert "trainer.resume=false" in str(info.value)
    fresh = attrs.evolve(other, trainer=attrs.evolve(other.trainer, resume=False))
    again = train_in_child("pretrain", fresh).result
    assert again.metadata["resumed_from_step"] is None and again.step == 6
    saves = sorted(p.name for p in (tmp_path / "out" / "checkpoints").glob("iter_*"))
    assert saves == ["iter_0000006"]  # the older run's step 12 cannot be resumed by mistake


def test_kill_9_resume_continues_the_same_loss_curve(pretrain_data: Path, tmp_path: Path
                                                     ) -> None:
    """The stage job killed with SIGKILL after a save resumes on rerun from that save, and
    its losses after the kill equal an uninterrupted run's."""
    straight = train_in_child("pretrain", tiny_pretrain(pretrain_data, tmp_path / "a",
                                                        max_steps=30, checkpoint_every=5))
    body = {"data": str(pretrain_data), "output_dir": str(tmp_path / "b"),
            "artifact_name": "test-pretrain-model", "model": attrs.asdict(TINY_MODEL),
            "optimizer": {"lr": 5e-3, "min_lr": 5e-4, "warmup_steps": 2},
            "trainer": {"max_steps": 30, "micro_batch_size": 8, "log_every": 1,
                        "checkpoint_every": 5, "num_threads": 1, "eval_batches": 2,
                        "keep_checkpoints": 5}}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps(body))
    cmd = [sys.executable, "-m", "nano3.stages.pretrain", "-c", str(cfg)]
    tracker = tmp_path / "b" / "checkpoints" / "latest_checkpointed_iteration.txt"
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while not tracker.is_file():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = int(tracker.read_text())
    assert killed_at < 30
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed from {tracker.parent / f'iter_{killed_at:07d}'} at step {killed_at}" in (
        done.stdout)
    from kit_artifacts import get_registry

    reg = get_registry()
    art = reg.load(reg.resolve("test-pretrain-model"))
    assert art.step == 30 and art.metadata["resumed_from_step"] == killed_at
    want = straight.losses()
    got = run_losses(tmp_path / "home")
    after = range(killed_at + 1, 31)
    assert [got[s] for s in after] == pytest.approx([want[s] for s in after], rel=1e-5)
    assert art.final_loss == pytest.approx(straight.result.final_loss, rel=1e-5)


def test_fresh_gpt_model_loads_the_save_with_the_same_eval_loss(pretrain_data: Path,
                                                                tmp_path: Path) -> None:
    """Megatron-Core's own `dist_checkpointing.load` into a freshly built GPTModel (another
    init seed) gives the held-out loss that training reported, by a plain forward pass."""
    res = train_in_child("pretrain", tiny_pretrain(pretrain_data, tmp_path / "out")).result
    out = subprocess.run(
        [sys.executable, "-m", "test_nano3_train._eval_probe", res.checkpoint,
         str(pretrain_data / "blend.json"), "8", "2"],
        env=child_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert out.returncode == 0, out.stderr[-4000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])["eval_loss"]
    assert loaded == pytest.approx(res.final_loss, abs=1e-5)


def test_trainable_patterns_freeze_every_other_parameter(pretrain_data: Path,
                                                         tmp_path: Path) -> None:
    """With optimizer.trainable, only the matching GPTModel parameters change."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out", max_steps=5, checkpoint_every=5)
    cfg = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer, trainable=[
        "decoder.final_layernorm.*", "decoder.layers.*.input_layernorm.*"]))
    res = train_in_child("pretrain", cfg).result
    assert res.metadata["trainable_parameters"] == 3 * 2 * TINY_MODEL.hidden_size
    out = subprocess.run(
        [sys.executable, "-m", "test_nano3_train._eval_probe", res.checkpoint, "changed",
         str(cfg.trainer.seed)], env=child_env(), capture_output=True, text=True,
        timeout=RUN_TIMEOUT)
    assert out.returncode == 0, out.stderr[-4000:]
    changed = set(json.loads(out.stdout.strip().splitlines()[-1])["changed"])
    assert changed == {f"decoder.{n}.{p}" for p in ("weight", "bias") for n in (
        "final_layernorm", "layers.0.input_layernorm", "layers.1.input_layernorm")}


# Problems found once data or model exist: raised before any training step or save, so these
# run in the test process.
def test_trainable_pattern_matching_nothing_is_rejected(pretrain_data: Path,
                                                        tmp_path: Path) -> None:
    """A pattern that matches no parameter names optimizer.trainable and real names."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out")
    cfg = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer, trainable=[
        "decoder.final_layernorm.*", "ln_f.*"]))
    with pytest.raises(StageConfigError) as info:
        run_pretrain(cfg, PrintMetrics(quiet=True))
    assert info.value.key_path == "optimizer.trainable"
    assert "'ln_f.*'" in str(info.value) and "embedding.word_embeddings.weight" in str(info.value)
    assert not list((tmp_path / "out").glob("checkpoints/iter_*"))


def test_token_beyond_vocab_is_rejected(pretrain_data: Path, tmp_path: Path) -> None:
    """Data with ids outside the model's vocabulary fails with a hint about vocab_size."""
    cfg = attrs.evolve(tiny_pretrain(pretrain_data, tmp_path / "out"),
                       model=attrs.evolve(TINY_MODEL, vocab_size=100))
    with pytest.raises(DataFormatError, match="vocab_size"):
        run_pretrain(cfg, PrintMetrics(quiet=True))
    assert not list((tmp_path / "out").glob("checkpoints/iter_*"))


def test_empty_train_split_is_rejected(tmp_path: Path) -> None:
    """A blend whose train split is null fails before any training."""
    (tmp_path / "blend.json").write_text(json.dumps({"train": None, "valid": None,
                                                     "test": None}))
    typed(PretrainBlendsArtifact, tmp_path, write=True)
    with pytest.raises(DataFormatError, match="train split is empty"):
        run_pretrain(tiny_pretrain(tmp_path, tmp_path / "out"), PrintMetrics(quiet=True))
