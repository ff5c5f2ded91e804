"""Which trackers a run gets by default, from its config and the environment.

FileTracker always (lineage must not depend on a service); `WandbTracker` when a W&B
project is configured (the config's `wandb:` section over `WANDB_*`: `WandbConfig`) and its
mode is not `disabled`; `MlflowTracker` when `mlflow.tracking_uri` or `MLFLOW_TRACKING_URI` is set.
`NEMOTRON_TRACKERS=file,wandb,mlflow,noop` chooses explicitly.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kit_track._file import FileTracker
from kit_track._protocol import Tracker
from kit_track._simple import NoOpTracker
from kit_track._wandb_config import setting, wandb_section
from kit_track.errors import TrackerConfigError

__all__ = ["KNOWN_TRACKERS", "trackers_from_settings"]

KNOWN_TRACKERS = ("file", "mlflow", "noop", "wandb")


def _build(name: str, config: Mapping[str, Any], env: Mapping[str, str]) -> Tracker:
    if name == "file":
        return FileTracker()
    if name == "noop":
        return NoOpTracker()
    if name == "wandb":
        from kit_track._wandb import WandbTracker

        wandb = wandb_section(config, env)
        return WandbTracker(project=wandb.project, entity=wandb.entity, mode=wandb.mode,
                            tags=wandb.tags, group=wandb.group)
    from kit_track._mlflow import MlflowTracker

    return MlflowTracker(
        tracking_uri=setting(config, "mlflow", "tracking_uri"),
        experiment=setting(config, "mlflow", "experiment"),
    )


def trackers_from_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[Tracker]:
    """The default trackers for a run with this (resolved) config."""
    env = os.environ if environ is None else environ
    explicit = env.get("NEMOTRON_TRACKERS", "").strip()
    if explicit:
        names = [n.strip().lower() for n in explicit.split(",") if n.strip()]
        unknown = [n for n in names if n not in KNOWN_TRACKERS]
        if unknown:
            raise TrackerConfigError(
                "NEMOTRON_TRACKERS", explicit, f"unknown tracker(s) {', '.join(unknown)}",
                hint=f"choose from {', '.join(KNOWN_TRACKERS)}",
            )
    else:
        names = ["file"]
        if wandb_section(config, env).enabled:
            names.append("wandb")
        if setting(config, "mlflow", "tracking_uri") or env.get("MLFLOW_TRACKING_URI"):
            names.append("mlflow")
    return [_build(name, config, env) for name in dict.fromkeys(names)]
