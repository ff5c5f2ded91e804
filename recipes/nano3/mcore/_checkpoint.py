"""Checkpoints in Megatron's distributed format (`dist_checkpointing`, torch_dist).

Layout under a run's `checkpoints/` folder (Megatron-LM's own):
  iter_0000010/                  torch_dist files (.metadata, *.distcp, common.pt, metadata.json)
  iter_0000010/model_config.json the model shape and tokenizer EOD, so a reader can rebuild it
  latest_checkpointed_iteration.txt  written last: a save killed half-way is never resumed from
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from nano3.mcore._config import ModelShape
from nano3.mcore.errors import McoreCheckpointError

__all__ = ["TRACKER", "latest_checkpoint", "load_checkpoint", "load_model_weights",
           "read_model_shape", "save_checkpoint"]

TRACKER = "latest_checkpointed_iteration.txt"
MODEL_CONFIG = "model_config.json"


def _rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def _barrier() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def _iter_dir(root: Path, step: int) -> Path:
    return root / f"iter_{step:07d}"


def latest_checkpoint(root: Path) -> Path | None:
    """The folder the tracker names, or None when no save has completed."""
    tracker = root / TRACKER
    if not tracker.is_file():
        return None
    return _iter_dir(root, int(tracker.read_text().strip()))


def _sharded(model: Any, optimizer: Any, loading: bool) -> dict[str, Any]:
    # The bare GPTModel's keys (`embedding.word_embeddings.weight`, ...), as Megatron-LM saves:
    # the DDP wrapper would prefix them all with `module.`.
    model_sd = model.sharded_state_dict()
    return {"model": model_sd,
            "optimizer": optimizer.sharded_state_dict(model_sd, is_loading=loading)}


def save_checkpoint(root: Path, step: int, model: Any, optimizer: Any, scheduler: Any,
                    model_info: dict[str, Any], keep: int) -> Path:
    """Save model + optimizer (sharded), scheduler, step and RNG (common); rank 0 writes the
    model config and then the tracker, and prunes all but the newest `keep` saves."""
    from megatron.core import dist_checkpointing

    path = _iter_dir(root, step)
    if _rank() == 0:
        shutil.rmtree(path, ignore_errors=True)  # a save killed half-way
        path.mkdir(parents=True)
    _barrier()
    state = _sharded(model, optimizer, loading=False)
    state.update(step=step, scheduler=scheduler.state_dict(), rng=torch.get_rng_state())
    dist_checkpointing.save(state, str(path), sharded_strategy=("torch_dist", 1))
    _barrier()
    if _rank() == 0:
        (path / MODEL_CONFIG).write_text(json.dumps(model_info, indent=2, sort_keys=True))
        tmp = root / (TRACKER + ".tmp")
        tmp.write_text(str(step))
        tmp.replace(root / TRACKER)
        saves = sorted(root.glob("iter_*"))
        for old in saves[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return path


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> int:
    """Restore everything `save_checkpoint` wrote into live objects; returns the step."""
    from megatron.core import dist_checkpointing

    if not (path / "metadata.json").is_file():
        raise McoreCheckpointError(str(path), "is not a torch_dist checkpoint (no metadata.json)",
                                   hint="delete the run's checkpoints/ folder to start over")
    state = dist_checkpointing.load(_sharded(model, optimizer, loading=True), str(path))
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return int(state["step"])


def read_model_shape(path: Path) -> ModelShape:
    """The ModelShape saved beside a checkpoint."""
    file = path / MODEL_CONFIG
    if not file.is_file():
        raise McoreCheckpointError(str(path), f"has no {MODEL_CONFIG}",
                                   hint="point at an iter_NNNNNNN folder this backend saved")
    return ModelShape(**json.loads(file.read_text())["model"])


def load_model_weights(path: Path, model: Any) -> None:
    """Load only the model weights of a checkpoint into a freshly built GPTModel: what SFT and
    evaluation do with a pretrained checkpoint."""
    from megatron.core import dist_checkpointing

    state = dist_checkpointing.load({"model": model.sharded_state_dict()}, str(path))
    model.load_state_dict(state["model"], strict=True)
