"""Resumable checkpoints and the model directory that a `ModelArtifact` points at.

Layout under `output_dir/checkpoints/`: `step_000040/` holding `model.pt` (weights),
`model_config.json` (shape, tokenizer, lineage hints), `optimizer.pt` and `trainer_state.json`
(written last: a directory without it is incomplete), plus `latest` naming the newest
complete step. Each checkpoint is built in a temp directory and renamed into place, and
`latest` is replaced atomically, so a `kill -9` at any moment leaves the previous checkpoint
usable. The step directory alone is a complete model: SFT and RL load it as their input.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import attrs
import torch

from kit_config import atomic_write_json, config_digest
from nano3.stages._config import ModelConfig
from nano3.stages.errors import CheckpointError

__all__ = [
    "LoadedModel",
    "find_latest_checkpoint",
    "load_model_dir",
    "load_training_state",
    "model_info",
    "resume_key",
    "save_checkpoint",
]

FORMAT = "nano3-decoder-lm/1"
_STATE = "trainer_state.json"


def resume_key(parts: dict[str, Any]) -> str:
    """The key a checkpoint must match to be resumed: a digest of the settings that matter.

    Not the run's `config_digest` (which covers the whole config): only what changes the
    meaning of saved weights and optimizer state goes in.
    """
    return config_digest(parts)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_json(path, obj, sort_keys=True)


def save_checkpoint(output_dir: Path, step: int, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, state: dict[str, Any],
                    model_info: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `step` atomically, point `latest` at it, prune to `keep` newest."""
    root = output_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    raw = getattr(model, "module", model)  # unwrap DDP so keys carry no "module." prefix
    torch.save(raw.state_dict(), tmp / "model.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    _write_json(tmp / "model_config.json", {"format": FORMAT, **model_info})
    _write_json(tmp / _STATE, {**state, "step": step})
    if final.exists():  # a rerun that restarted from scratch replaces the old step
        old = root / f".old-{name}-{os.getpid()}"
        final.replace(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.replace(final)
    _write_json(root / "latest", {"step": step, "dir": name})
    complete = sorted(p for p in root.glob("step_*") if (p / _STATE).is_file())
    for p in complete[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def find_latest_checkpoint(output_dir: Path) -> Path | None:
    """Newest complete checkpoint under `output_dir`, or None."""
    root = output_dir / "checkpoints"
    latest = root / "latest"
    if latest.is_file():
        try:
            cand = root / str(json.loads(latest.read_text())["dir"])
        except (ValueError, KeyError, TypeError):
            cand = None
        if cand is not None and (cand / _STATE).is_file():
            return cand
    complete = sorted(p for p in root.glob("step_*") if (p / _STATE).is_file())
    return complete[-1] if complete else None


def load_training_state(ckpt: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        key: str) -> dict[str, Any]:
    """Restore weights and optimizer from `ckpt`; refuse one made under other settings."""
    state: dict[str, Any] = json.loads((ckpt / _STATE).read_text())
    if state.get("resume_key") != key:
        raise CheckpointError(str(ckpt), "was written under different training settings "
                              f"(resume key {state.get('resume_key')} != {key})",
                              hint="use a new output_dir, or trainer.resume=false to start over")
    try:
        raw = getattr(model, "module", model)
        raw.load_state_dict(torch.load(ckpt / "model.pt", map_location="cpu",
                                       weights_only=True))
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu",
                                             weights_only=True))
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(str(ckpt), f"unreadable ({exc})", hint="delete this step "
                              "directory to resume from an older one") from exc
    return state


class LoadedModel:
    """A model directory read back: its shape, weights and recorded info."""

    def __init__(self, path: Path, config: ModelConfig, weights: dict[str, torch.Tensor],
                 info: dict[str, Any]) -> None:
        self.path = path
        self.config = config
        self.weights = weights
        self.info = info


def load_model_dir(path: str) -> LoadedModel:
    """Load the model a `ModelArtifact` points at (a checkpoint step directory)."""
    p = Path(path)
    if p.is_dir() and not (p / "model.pt").is_file():
        latest = find_latest_checkpoint(p)
        p = latest if latest is not None else p
    meta, weights = p / "model_config.json", p / "model.pt"
    if not meta.is_file() or not weights.is_file():
        raise CheckpointError(str(p), "no model.pt + model_config.json here",
                              hint="point `model` at a ModelArtifact (${art:NAME})")
    try:
        info = json.loads(meta.read_text())
        cfg = ModelConfig(**info["model"])
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(str(p), f"unreadable model ({exc})") from exc
    return LoadedModel(p, cfg, state, info)


def model_info(cfg: ModelConfig, **extra: Any) -> dict[str, Any]:
    """The `model_config.json` body: the shape plus extra facts (tokenizer, stage, ...)."""
    return {"model": attrs.asdict(cfg), **extra}
