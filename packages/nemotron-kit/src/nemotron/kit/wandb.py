"""nemotron.kit.wandb: W&B integration helpers (settings, credentials, init, tags, finish, sync)."""
from __future__ import annotations

from kit_track import (
    WandbConfig,
    add_wandb_tags,
    finish_wandb,
    init_wandb_if_configured,
    job_credentials,
    sync,
    wandb_api_key,
)

__all__ = [
    "WandbConfig",
    "add_wandb_tags",
    "finish_wandb",
    "init_wandb_if_configured",
    "job_credentials",
    "sync",
    "wandb_api_key",
]
