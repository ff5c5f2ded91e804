"""Where the kit keeps its state: `$NEMOTRON_HOME` and the areas under it.

Every package asks here instead of reading the variable itself, so `~` is expanded the
same way everywhere. docs/CONTRACTS.md says which package writes each area.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

__all__ = ["HOME_AREAS", "HOME_ENV", "HomeArea", "home_dir", "nemotron_home"]

HOME_ENV = "NEMOTRON_HOME"
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
