"""Local pretraining: loss falls, checkpoints resume exactly, kill -9 resumes, bad input fails."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
import torch

from kit_artifacts import PretrainBlendsArtifact
from nano3.stages import CheckpointError, DataFormatError, PrintMetrics, StageConfigError
from nano3.stages._config import ModelConfig, OptimizerConfig, PretrainConfig, TrainerConfig
from nano3.stages._local_pretrain import run_pretrain
from nano3.stages._model import DecoderLM

from .conftest import load_typed, typed

TINY_MODEL = ModelConfig(vocab_size=257, seq_length=32, num_layers=2, hidden_size=32,
                         num_attention_heads=4, ffn_hidden_size=64)


def tiny_pretrain(data: Path, out: Path, **trainer: object) -> PretrainConfig:
    """A pretrain config small enough for a few seconds on one CPU thread."""
    t = {"max_steps": 20, "micro_batch_size": 8, "log_every": 5, "checkpoint_every": 10,
         "num_threads": 1, **trainer}
    return PretrainConfig(data=load_typed(PretrainBlendsArtifact, data), output_dir=str(out),
                          model=TINY_MODEL,
                          optimizer=OptimizerConfig(lr=5e-3, min_lr=5e-4, warmup_steps=2),
                          trainer=TrainerConfig(**t))  # type: ignore[arg-type]


def test_loss_falls_and_metadata_is_complete(pretrain_data: Path, tmp_path: Path) -> None:
    """Held-out loss at the end is below its start, and the result records both."""
    sink = PrintMetrics(quiet=True)
    res = run_pretrain(tiny_pretrain(pretrain_data, tmp_path / "out"), sink)
    assert res.completed and res.step == 20
    assert res.final_loss is not None
    assert res.final_loss < res.metadata["initial_loss"] - 0.5
    assert res.metadata["tokens_per_sec"] > 0
    assert res.metadata["tokenizer"] == "bytes"
    assert Path(res.checkpoint, "model.pt").is_file()
    info = json.loads(Path(res.checkpoint, "model_config.json").read_text())
    assert info["model"]["vocab_size"] == 257 and info["tokenizer"] == "bytes"
    assert any(step == 20 for step, _ in sink.history)


def test_resume_is_exact(pretrain_data: Path, tmp_path: Path) -> None:
    """Stopping at step 10 and resuming ends with the same weights as one straight run."""
    straight = run_pretrain(tiny_pretrain(pretrain_data, tmp_path / "a"),
                            PrintMetrics(quiet=True))
    cfg = tiny_pretrain(pretrain_data, tmp_path / "b")
    part = run_pretrain(cfg, PrintMetrics(quiet=True), stop_at_step=10)
    assert not part.completed
    resumed = run_pretrain(cfg, PrintMetrics(quiet=True))
    assert resumed.metadata["resumed_from_step"] == 10
    a = torch.load(Path(straight.checkpoint, "model.pt"), weights_only=True)
    b = torch.load(Path(resumed.checkpoint, "model.pt"), weights_only=True)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.final_loss == straight.final_loss


def test_resume_refuses_other_settings(pretrain_data: Path, tmp_path: Path) -> None:
    """A checkpoint made under another learning rate is not silently resumed."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out")
    run_pretrain(cfg, PrintMetrics(quiet=True), stop_at_step=10)
    cfg = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer, lr=1e-3))
    with pytest.raises(CheckpointError, match="different training settings"):
        run_pretrain(cfg, PrintMetrics(quiet=True))


def test_resume_false_starts_over(pretrain_data: Path, tmp_path: Path) -> None:
    """trainer.resume=false ignores existing checkpoints and trains from step 0."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out", max_steps=10)
    run_pretrain(cfg, PrintMetrics(quiet=True))
    cfg = attrs.evolve(cfg, trainer=attrs.evolve(cfg.trainer, resume=False))
    again = run_pretrain(cfg, PrintMetrics(quiet=True))
    assert again.metadata["resumed_from_step"] is None


def test_token_beyond_vocab_is_rejected(pretrain_data: Path, tmp_path: Path) -> None:
    """Data with ids outside the model's vocabulary fails with a hint about vocab_size."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out")
    small = ModelConfig(vocab_size=100, seq_length=32, num_layers=1, hidden_size=32,
                        num_attention_heads=4, ffn_hidden_size=64)
    cfg = attrs.evolve(cfg, model=small)
    with pytest.raises(DataFormatError, match="vocab_size"):
        run_pretrain(cfg, PrintMetrics(quiet=True))


def test_empty_train_split_is_rejected(tmp_path: Path) -> None:
    """A blend whose train split is null fails before any training."""
    (tmp_path / "blend.json").write_text(json.dumps({"train": None, "valid": None,
                                                     "test": None}))
    typed(PretrainBlendsArtifact, tmp_path, write=True)
    with pytest.raises(DataFormatError, match="train split is empty"):
        run_pretrain(tiny_pretrain(tmp_path, tmp_path / "out"), PrintMetrics(quiet=True))


def write_stage_yaml(path: Path, body: dict[str, object]) -> Path:
    """Write a stage config file (JSON is valid YAML)."""
    path.write_text(json.dumps(body))
    return path


def _yaml_for(data: str, out: Path, steps: int, every: int) -> dict[str, object]:
    return {"data": data, "output_dir": str(out), "artifact_name": "test-pretrain-model",
            "model": {"vocab_size": 257, "seq_length": 32, "num_layers": 2, "hidden_size": 32,
                      "num_attention_heads": 4, "ffn_hidden_size": 64},
            "optimizer": {"lr": 5e-3, "min_lr": 5e-4},
            "trainer": {"max_steps": steps, "micro_batch_size": 8, "log_every": 1,
                        "checkpoint_every": every, "num_threads": 1}}


def test_kill_9_then_rerun_resumes(pretrain_data: Path, tmp_path: Path, subprocess_env) -> None:
    """A stage process killed with SIGKILL after a checkpoint resumes from it on rerun."""
    out = tmp_path / "out"
    cfg = write_stage_yaml(tmp_path / "cfg.yaml", _yaml_for(str(pretrain_data), out, 150, 5))
    cmd = [sys.executable, "-m", "nano3.stages.pretrain", "-c", str(cfg)]
    proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    latest = out / "checkpoints" / "latest"
    while not latest.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = json.loads(latest.read_text())["step"]
    assert killed_at < 150
    done = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    resumed_line = [ln for ln in done.stdout.splitlines() if "resumed from" in ln]
    assert resumed_line, done.stdout[-2000:]
    step = int(resumed_line[0].rsplit("step", 1)[1])
    assert step >= killed_at
    from kit_artifacts import get_registry

    reg = get_registry()
    art = reg.load(reg.resolve("test-pretrain-model"))
    assert art.step == 150
    assert art.metadata["resumed_from_step"] == step


def test_trainable_patterns_freeze_every_other_parameter(pretrain_data: Path,
                                                         tmp_path: Path) -> None:
    """With optimizer.trainable, only the matching parameters change and the count is kept."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out", max_steps=5, checkpoint_every=5)
    cfg = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer,
                                                   trainable=["ln_f.*", "blocks.*.ln1.*"]))
    res = run_pretrain(cfg, PrintMetrics(quiet=True))
    after = torch.load(Path(res.checkpoint, "model.pt"), weights_only=True)
    torch.manual_seed(cfg.trainer.seed)  # as setup_runtime seeds rank 0: the same init
    before = DecoderLM(TINY_MODEL).state_dict()
    changed = {name for name, value in after.items() if not torch.equal(value, before[name])}
    assert changed == {"ln_f.weight", "ln_f.bias", "blocks.0.ln1.weight", "blocks.0.ln1.bias",
                       "blocks.1.ln1.weight", "blocks.1.ln1.bias"}
    assert res.metadata["trainable_parameters"] == 3 * 2 * TINY_MODEL.hidden_size


def test_trainable_pattern_matching_nothing_is_rejected(pretrain_data: Path,
                                                        tmp_path: Path) -> None:
    """A pattern that matches no parameter names optimizer.trainable and writes nothing."""
    cfg = tiny_pretrain(pretrain_data, tmp_path / "out")
    cfg = attrs.evolve(cfg, optimizer=attrs.evolve(cfg.optimizer,
                                                   trainable=["ln_f.*", "layernorm.*"]))
    with pytest.raises(StageConfigError) as info:
        run_pretrain(cfg, PrintMetrics(quiet=True))
    assert info.value.key_path == "optimizer.trainable"
    assert "'layernorm.*'" in str(info.value) and "ln_f.bias" in str(info.value)
    assert not (tmp_path / "out" / "checkpoints").exists()
