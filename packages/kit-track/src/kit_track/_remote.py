"""The W&B-form `art://ENTITY/PROJECT/NAME:VER` resolver that kit-artifacts calls.

kit-artifacts cannot import W&B support; importing `kit_track` installs this resolver
into `kit_artifacts.hooks` (unless someone installed another one first).
"""
from __future__ import annotations

from kit_artifacts import hooks
from kit_config import nemotron_home
from kit_track._credentials import wandb_api_key, wandb_host
from kit_track._wandb_client import RealWandbClient, WandbClient
from kit_track.errors import CredentialsError

__all__ = ["install_wandb_resolver", "wandb_remote_resolver"]


def wandb_remote_resolver(client: WandbClient | None = None) -> hooks.RemoteResolver:
    """A resolver returning the local path of a W&B artifact (its file:// reference, or a
    download under `$NEMOTRON_HOME/wandb-artifacts`)."""

    def resolve(entity: str, project: str, name: str, version: str) -> str:
        chosen = client
        if chosen is None:
            if not wandb_api_key():
                raise CredentialsError("W&B", "WANDB_API_KEY", wandb_host())
            chosen = RealWandbClient()
        root = nemotron_home() / "wandb-artifacts"
        return chosen.fetch_artifact(f"{entity}/{project}/{name}:{version}", str(root))

    return resolve


def install_wandb_resolver(client: WandbClient | None = None, *, replace: bool = False) -> bool:
    """Register the W&B resolver; True when installed (False if another one was there)."""
    if not replace and hooks.get_remote_resolver() is not None:
        return False
    hooks.register_remote_resolver(wandb_remote_resolver(client))
    return True
