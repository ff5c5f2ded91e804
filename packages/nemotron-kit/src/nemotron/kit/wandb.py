"""nemotron.kit.wandb: W&B integration helpers (credentials, init, tags, finish, sync)."""
from __future__ import annotations

from kit_track import (
    add_wandb_tags,
    finish_wandb,
    init_wandb_if_configured,
    job_credentials,
    sync,
    wandb_api_key,
)

__all__ = [
    "add_wandb_tags",
    "finish_wandb",
    "init_wandb_if_configured",
    "job_credentials",
    "sync",
    "wandb_api_key",
]
