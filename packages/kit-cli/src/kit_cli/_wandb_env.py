"""env.toml `[wandb]` -> the `WANDB_*` settings a stage process or job runs with.

kit-run parses env.toml and kit-track reads the W&B settings (`kit_config.WandbConfig`);
neither may import the other, so kit-cli bridges them. A local stage subprocess and a
cluster job both get `WANDB_PROJECT`, `WANDB_ENTITY`, `WANDB_MODE`, `WANDB_TAGS`,
`WANDB_RUN_GROUP` as plain environment variables; the API key never travels this way
(only as a job secret, see `kit_track.job_credentials`). The submitter's own `WANDB_*`
variables win over env.toml, a profile's `env_vars` over both, and the stage config's
`wandb:` section (with its command line overrides) over all of them, because kit-track
reads the config first.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["wandb_env", "wandb_env_defaults"]


def wandb_env(
    env_file: str | Path | None, *, profile_env: Mapping[str, object] | None = None
) -> dict[str, str]:
    """`WANDB_*` settings from env.toml `[wandb]` under the environment's; none that
    `profile_env` sets.

    A bad `[wandb]` table (unknown key, an API key, a bad mode) raises
    `kit_config.ConfigValidationError` naming the file.
    """
    from kit_config import WandbConfig

    table: Mapping[str, object] = {}
    if env_file is not None and Path(env_file).is_file():
        from kit_run import load_env_file

        table = load_env_file(env_file).wandb
    configured = WandbConfig.from_mapping(table, file=str(env_file))
    effective = WandbConfig.from_env().over(configured)
    return {k: v for k, v in effective.env().items() if k not in (profile_env or {})}


@contextlib.contextmanager
def wandb_env_defaults(env_file: str | Path | None) -> Iterator[dict[str, str]]:
    """Fill this process's missing `WANDB_*` from env.toml for the block (`nemotron sync`)."""
    added = {k: v for k, v in wandb_env(env_file).items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield added
    finally:
        for key in added:
            os.environ.pop(key, None)
