"""Where the kit keeps its state (`$NEMOTRON_HOME` and the areas under it) and where its
execution profiles are (`env.toml`).

Every package asks here instead of reading the variables itself, so `~` is expanded and
env.toml is found the same way everywhere. docs/CONTRACTS.md says which package writes each
area.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

__all__ = ["ENV_FILE_ENV", "HOME_AREAS", "HOME_ENV", "HomeArea", "find_env_file", "home_dir",
           "nemotron_home"]

HOME_ENV = "NEMOTRON_HOME"
ENV_FILE_ENV = "NEMOTRON_ENV_FILE"
HomeArea = Literal["artifacts", "data", "jobs", "launches", "models", "runs"]
HOME_AREAS: tuple[str, ...] = get_args(HomeArea)


def nemotron_home() -> Path:
    """`$NEMOTRON_HOME` (`~` expanded), default `~/.nemotron`."""
    return Path(os.environ.get(HOME_ENV) or "~/.nemotron").expanduser()


def home_dir(area: HomeArea) -> Path:
    """One area of the home layout: `home_dir("runs")` is `$NEMOTRON_HOME/runs`."""
    if area not in HOME_AREAS:
        from kit_config._suggest import did_you_mean

        raise ValueError(
            f"unknown $NEMOTRON_HOME area {area!r}{did_you_mean(area, HOME_AREAS)}; "
            f"use one of {', '.join(HOME_AREAS)}"
        )
    return nemotron_home() / area


def find_env_file(start: str | os.PathLike[str] | None = None) -> Path | None:
    """`$NEMOTRON_ENV_FILE` (as given, `~` expanded, even if missing: the caller says so),
    else the nearest `env.toml` from `start` (default: the working directory) up to the
    repository root, the first folder holding `.git`: an env.toml above the checkout is
    never picked up. None when there is none."""
    forced = os.environ.get(ENV_FILE_ENV)
    if forced:
        return Path(forced).expanduser()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "env.toml"
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None
