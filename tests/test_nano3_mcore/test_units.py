"""In-process pieces of nano3.mcore: rank/world discovery, device choice, checkpoint errors,
the settings round trip and the public face."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nano3.mcore as mcore
from nano3.mcore._checkpoint import latest_checkpoint, load_checkpoint, read_model_shape
from nano3.mcore._config import ModelShape, OptimSettings, TrainSettings, from_dict, to_dict
from nano3.mcore._dist import DistEnv, dist_env
from nano3.mcore._pretrain import _use_cuda

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
    with pytest.raises(mcore.McoreUnavailableError, match="trainer.device=auto or cpu"):
        _use_cuda("cuda")
    assert _use_cuda("auto") is False


def test_not_a_checkpoint(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    with pytest.raises(mcore.McoreCheckpointError, match="not a torch_dist checkpoint"):
        load_checkpoint(tmp_path, None, None, None)
    with pytest.raises(mcore.McoreCheckpointError, match="model_config.json"):
        read_model_shape(tmp_path)


@pytest.mark.parametrize("obj", [
    ModelShape(10, 8, 1, 4, 2, 8), OptimSettings(lr=1e-2), TrainSettings(max_steps=3)],
    ids=["model", "optim", "trainer"])
def test_settings_round_trip(obj: object) -> None:
    assert from_dict(type(obj), to_dict(obj)) == obj


def test_unknown_setting_is_named() -> None:
    with pytest.raises(TypeError, match="max_step"):
        from_dict(TrainSettings, {"max_step": 3})


def test_public_all_is_exact_and_sorted() -> None:
    """`__all__` lists exactly the public names the package binds (its submodules aside)."""
    public = {n for n in vars(mcore) if not n.startswith("_")} - {"annotations", "errors"}
    assert mcore.__all__ == sorted(public)


@pytest.mark.parametrize(("err", "builtin"), [
    (mcore.McoreUnavailableError("no CUDA", hint="use cpu"), RuntimeError),
    (mcore.McoreCheckpointError("/c", "broken", hint="delete it"), ValueError),
    (mcore.SFTDataError("/f: no rows", hint="check it"), ValueError),
], ids=["unavailable", "checkpoint", "sft-data"])
def test_errors_are_kit_errors_and_builtins(err: Exception, builtin: type) -> None:
    from kit_config.errors import KitError

    assert isinstance(err, KitError) and isinstance(err, builtin)
    assert "\n" not in str(err) and "; " in str(err)  # what; how to fix
