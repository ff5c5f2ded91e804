"""Entry points of the `pants run recipes/nano3:<stage>` launchers.

Each launcher hands its arguments to kit-cli's one stage runner, which composes the config,
pins `${art:...}` inputs, saves provenance, then runs the stage module here or submits it with
`--run/--batch PROFILE`. The exit code passes through unchanged.
"""
from __future__ import annotations

import sys

from kit_cli import run_stage
from nano3.recipe import RECIPE

__all__ = ["data_prep_pretrain", "data_prep_rl", "data_prep_sft", "pretrain", "rl", "sft"]


def _launch(stage: str) -> None:
    sys.exit(run_stage(RECIPE, stage, sys.argv[1:]))


def pretrain() -> None:
    """`pants run recipes/nano3:pretrain -- [-c CONFIG] [--run|--batch PROFILE] [overrides]`."""
    _launch("pretrain")


def sft() -> None:
    """`pants run recipes/nano3:sft -- ...`."""
    _launch("sft")


def rl() -> None:
    """`pants run recipes/nano3:rl -- ...`."""
    _launch("rl")


def data_prep_pretrain() -> None:
    """`pants run recipes/nano3:data-prep-pretrain -- ...`."""
    _launch("data prep pretrain")


def data_prep_sft() -> None:
    """`pants run recipes/nano3:data-prep-sft -- ...`."""
    _launch("data prep sft")


def data_prep_rl() -> None:
    """`pants run recipes/nano3:data-prep-rl -- ...`."""
    _launch("data prep rl")
