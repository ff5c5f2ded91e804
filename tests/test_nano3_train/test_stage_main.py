"""The stage command lines end to end: ${art:...} inputs, lineage, DDP under torchrun, errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _publish_data(data: Path, name: str) -> str:
    from kit_artifacts import PretrainBlendsArtifact

    art = PretrainBlendsArtifact(path=str(data), total_tokens=1000, total_sequences=10,
                                 num_shards=2, blend_path=str(data / "blend.json"),
                                 tokenizer_uri="bytes")
    return str(art.save(name=name).uri)


def _config(tmp_path: Path, **extra: object) -> Path:
    body = {"data": "${art:test-pretrain-data}", "artifact_name": "test-pretrain-model",
            "model": {"vocab_size": 257, "seq_length": 32, "num_layers": 1, "hidden_size": 32,
                      "num_attention_heads": 4, "ffn_hidden_size": 64},
            "optimizer": {"lr": 5e-3, "min_lr": 5e-4},
            "trainer": {"max_steps": 12, "micro_batch_size": 4, "log_every": 4,
                        "checkpoint_every": 6, "num_threads": 1}, **extra}
    path = tmp_path / "pretrain.yaml"
    path.write_text(json.dumps(body))
    return path


@pytest.mark.parametrize("written", ["${art:test-pretrain-data}", "art://test-pretrain-data"],
                         ids=["interpolation", "uri"])
def test_stage_publishes_model_with_lineage(pretrain_data: Path, tmp_path: Path,
                                            subprocess_env, written: str) -> None:
    """The stage takes its typed input in either form, publishes, records the edge once."""
    data_uri = _publish_data(pretrain_data, "test-pretrain-data")
    proc = subprocess.run([sys.executable, "-m", "nano3.stages.pretrain", "-c",
                           str(_config(tmp_path, data=written))], env=subprocess_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "published art://test-pretrain-model:v1" in proc.stdout
    from kit_artifacts import get_registry, lineage

    reg = get_registry()
    ref = reg.resolve("test-pretrain-model")
    record = reg.record(ref)
    assert record.inputs == (data_uri,)
    model = reg.load(ref)
    assert model.step == 12
    assert model.final_loss < model.metadata["initial_loss"]
    assert Path(model.path, "iter_0000012", "model_config.json").is_file()
    graph = lineage(ref.uri, direction="up")
    assert data_uri in json.dumps(graph.to_json())
    assert record.producer.run_id != "local"


def test_ddp_two_processes_publish_once(pretrain_data: Path, tmp_path: Path,
                                        subprocess_env) -> None:
    """Under torchrun with 2 CPU processes (gloo), training runs data-parallel, rank 0 publishes."""
    _publish_data(pretrain_data, "test-pretrain-data")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "nano3.stages.pretrain", "-c", str(_config(tmp_path))]
    proc = subprocess.run(cmd, env=subprocess_env(OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from kit_artifacts import get_registry

    reg = get_registry()
    assert reg.versions("test-pretrain-model") == [1]
    model = reg.load(reg.resolve("test-pretrain-model"))
    assert model.metadata["world_size"] == 2
    assert model.metadata["global_batch_size"] == 8
    assert model.final_loss < model.metadata["initial_loss"]


@pytest.mark.parametrize(("extra", "message"), [
    pytest.param({"trainer": {"max_steps": 0}}, "must be > 0, got 0 @ trainer.max_steps",
                 id="invalid-value"),
    pytest.param({"backend": "nemo-rl"}, "@ backend", id="wrong-backend"),
    pytest.param({"data": "/does/not/exist"}, "no artifact metadata", id="missing-data"),
    pytest.param({"data": "art://test-pretrain-data:v9"}, "existing versions: v1",
                 id="missing-version"),
    pytest.param({"nope": 1}, "unknown key 'nope'", id="unknown-key"),
    pytest.param({"optimizer": {"lr": "abc"}}, "expected float, got 'abc' @ optimizer.lr",
                 id="wrong-type"),
])
def test_bad_input_exits_non_zero_and_publishes_nothing(pretrain_data: Path, tmp_path: Path,
                                                        subprocess_env, extra: dict[str, object],
                                                        message: str) -> None:
    """Bad config or data exits 2 with a one-line error, and nothing is published."""
    _publish_data(pretrain_data, "test-pretrain-data")
    body = json.loads(_config(tmp_path).read_text())
    for key, value in extra.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(body))
    proc = subprocess.run([sys.executable, "-m", "nano3.stages.pretrain", "-c", str(path)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    from kit_artifacts import get_registry

    assert "test-pretrain-model" not in get_registry().names()


def test_the_job_takes_no_overrides(tmp_path: Path, subprocess_env) -> None:
    """Overrides belong on the launcher (checked and recorded there), never on the job."""
    proc = subprocess.run([sys.executable, "-m", "nano3.stages.pretrain", "-c",
                           str(_config(tmp_path)), "trainer.max_steps=1"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "unexpected argument 'trainer.max_steps=1'" in proc.stderr
