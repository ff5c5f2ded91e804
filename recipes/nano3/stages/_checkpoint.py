"""Checkpoints in Megatron's distributed format (`dist_checkpointing`, torch_dist).

Layout under a run's `checkpoints/` folder (Megatron-LM's own `--save`/`--load` folder, and the
path of the published `ModelArtifact`; its `metadata.json` sits beside the saves, never inside
one, where torch_dist keeps a `metadata.json` of its own):
  iter_0000010/                  torch_dist files (.metadata, *.distcp, common.pt, metadata.json)
  iter_0000010/model_config.json the model shape and tokenizer EOD, so a reader can rebuild it
  latest_checkpointed_iteration.txt  written last: a save killed half-way is never resumed from
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import attrs
import torch

from kit_config import atomic_write_json, atomic_write_text, structure
from nano3.stages._config import ModelConfig
from nano3.stages.errors import CheckpointError

__all__ = ["TRACKER", "SavedModel", "check_resumable", "clear_checkpoints", "latest_checkpoint",
           "load_checkpoint", "load_model_weights", "read_saved_model", "save_checkpoint"]

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
        atomic_write_json(path / MODEL_CONFIG, model_info, sort_keys=True)
        atomic_write_text(root / TRACKER, str(step))
        saves = sorted(root.glob("iter_*"))
        for old in saves[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return path


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> int:
    """Restore everything `save_checkpoint` wrote into live objects; returns the step."""
    from megatron.core import dist_checkpointing

    if not (path / "metadata.json").is_file():
        raise CheckpointError(str(path), "is not a torch_dist checkpoint (no metadata.json)",
                              hint="trainer.resume=false starts over")
    state = dist_checkpointing.load(_sharded(model, optimizer, loading=True), str(path))
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return int(state["step"])


@attrs.frozen
class SavedModel:
    """A saved model read back: its checkpoint folder, shape and recorded facts."""

    path: Path
    shape: ModelConfig
    info: dict[str, Any]


def check_resumable(saved: SavedModel, resume_key: str) -> None:
    """Refuse to resume a save made under other training settings (its resume key)."""
    key = saved.info.get("resume_key")
    if key != resume_key:
        raise CheckpointError(str(saved.path), "was written under different training settings "
                              f"(resume key {key} != {resume_key})",
                              hint="use a new output_dir, or trainer.resume=false to start over")


def clear_checkpoints(root: Path) -> None:
    """Start over (`trainer.resume=false`): drop the tracker, then the saves (rank 0 only), so
    an older run's later steps can never be mistaken for this run's."""
    if _rank() == 0 and root.is_dir():
        (root / TRACKER).unlink(missing_ok=True)
        for old in root.glob("iter_*"):
            shutil.rmtree(old, ignore_errors=True)
    _barrier()


def read_saved_model(path: str | Path, step: int | None = None) -> SavedModel:
    """The model a `ModelArtifact` points at: a run's `checkpoints/` folder (what the stages
    publish: Megatron's own `--load` layout), its run folder, or one iter_NNNNNNN save. With
    `step` (the artifact's), that step's save, never a later one. Reads `model_config.json`
    only; the weights load into a built model (`load_model_weights`)."""
    p = Path(path)
    if not (p / MODEL_CONFIG).is_file():
        root = p / "checkpoints" if (p / "checkpoints" / TRACKER).is_file() else p
        if step and (root / TRACKER).is_file():
            p = _iter_dir(root, step)
            if not (p / MODEL_CONFIG).is_file():
                raise CheckpointError(str(p), f"the save of step {step} is gone (pruned or "
                                      "cleared by a later run in the same output_dir)",
                                      hint="retrain it, or point `model` at a later version")
        else:
            p = latest_checkpoint(root) or p
    file = p / MODEL_CONFIG
    if not file.is_file():
        raise CheckpointError(str(p), f"has no {MODEL_CONFIG}: not a model this recipe saved",
                              hint="point `model` at a ModelArtifact (${art:NAME})")
    try:
        info = json.loads(file.read_text())
        shape = structure(info["model"], ModelConfig)
    except (ValueError, KeyError, TypeError) as exc:  # ConfigValidationError is a ValueError
        raise CheckpointError(str(p), f"unreadable {MODEL_CONFIG} ({exc})",
                              hint="point `model` at a ModelArtifact (${art:NAME})") from exc
    return SavedModel(p, shape, info)


def load_model_weights(path: Path, model: Any) -> None:
    """Load only the model weights of a checkpoint into a freshly built GPTModel: what SFT and
    evaluation do with a pretrained checkpoint."""
    from megatron.core import dist_checkpointing

    state = dist_checkpointing.load({"model": model.sharded_state_dict()}, str(path))
    model.load_state_dict(state["model"], strict=True)
