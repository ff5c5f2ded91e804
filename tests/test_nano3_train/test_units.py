"""In-process pieces of the Megatron-Core training path: rank/world discovery, device choice,
checkpoint errors, and the saved-model reader."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nano3.stages import CheckpointError, StageConfigError
from nano3.stages._checkpoint import (
    check_resumable,
    latest_checkpoint,
    load_checkpoint,
    read_saved_model,
)
from nano3.stages._dist import DistEnv, dist_env
from nano3.stages._loop import _use_cuda

ENVS = [
    ("torchrun", {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h0",
                  "MASTER_PORT": "29500"}, DistEnv(3, 4, 1, "h0", 29500)),
    ("srun", {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
              "SLURM_JOB_ID": "1234", "MASTER_ADDR": "n1"}, DistEnv(5, 8, 1, "n1", 21234)),
    ("torchrun-wins-over-slurm", {"RANK": "0", "WORLD_SIZE": "2", "SLURM_PROCID": "1",
                                  "SLURM_NTASKS": "2", "MASTER_PORT": "1"},
     DistEnv(0, 2, 0, "127.0.0.1", 1)),
]


@pytest.mark.parametrize(("env", "want"), [(e, w) for _, e, w in ENVS],
                         ids=[i for i, _, _ in ENVS])
def test_dist_env(env: dict[str, str], want: DistEnv) -> None:
    assert dist_env(env) == want


def test_single_process_gets_a_free_local_port() -> None:
    got = dist_env({})
    assert (got.rank, got.world_size, got.master_addr) == (0, 1, "127.0.0.1")
    assert got.master_port > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA refusal")
def test_cuda_requested_without_cuda_is_refused() -> None:
    with pytest.raises(StageConfigError, match="trainer.device") as info:
        _use_cuda("cuda")
    assert "auto or cpu" in str(info.value)
    assert _use_cuda("auto") is False


def test_not_a_checkpoint(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    with pytest.raises(CheckpointError, match="not a torch_dist checkpoint"):
        load_checkpoint(tmp_path, None, None, None)
    with pytest.raises(CheckpointError, match="model_config.json") as info:
        read_saved_model(tmp_path)
    assert "${art:NAME}" in str(info.value)


def _saved(root: Path, step: int, **info: object) -> Path:
    path = root / "checkpoints" / f"iter_{step:07d}"
    path.mkdir(parents=True)
    shape = {"vocab_size": 10, "seq_length": 8, "num_layers": 1, "hidden_size": 4,
             "num_attention_heads": 2, "ffn_hidden_size": 8}
    (path / "model_config.json").write_text(json.dumps({"model": shape, **info}))
    (root / "checkpoints" / "latest_checkpointed_iteration.txt").write_text(str(step))
    return path


def test_a_bad_model_shape_names_the_field(tmp_path: Path) -> None:
    """model_config.json is structured with cattrs: a wrong type names its key."""
    path = _saved(tmp_path, 5)
    info = json.loads((path / "model_config.json").read_text())
    info["model"]["hidden_size"] = "wide"
    (path / "model_config.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="hidden_size"):
        read_saved_model(path)


@pytest.mark.parametrize("where", ["iter-folder", "run-folder", "checkpoints-folder"])
def test_saved_model_is_found_from_any_of_its_folders(tmp_path: Path, where: str) -> None:
    """A ModelArtifact may point at the save itself, its run or its checkpoints folder."""
    _saved(tmp_path, 3)
    path = _saved(tmp_path, 5, tokenizer="bytes")
    given = {"iter-folder": path, "run-folder": tmp_path,
             "checkpoints-folder": tmp_path / "checkpoints"}[where]
    saved = read_saved_model(given)
    assert saved.path == path and saved.shape.vocab_size == 10
    assert saved.info["tokenizer"] == "bytes"


def test_resume_guard_names_both_keys_and_a_working_fix(tmp_path: Path) -> None:
    saved = read_saved_model(_saved(tmp_path, 5, resume_key="sha256:a"))
    check_resumable(saved, "sha256:a")
    with pytest.raises(CheckpointError, match="different training settings") as info:
        check_resumable(saved, "sha256:b")
    assert "sha256:a != sha256:b" in str(info.value)
    assert "trainer.resume=false" in str(info.value)
