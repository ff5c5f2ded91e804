"""`pants run recipes/nano3:pipeline`: data prep -> pretrain -> SFT -> RL, then the lineage.

    pipeline [-c CONFIG] [--run PROFILE | --batch PROFILE] [--no-pex]
             [--set STAGE:KEY=VALUE ...]

kit-cli's `Pipeline` does the work (see `kit_cli._pipeline`): every stage is composed and
checked before the first one runs or is submitted; locally (no flag) or attached (`--run`)
the stages run in order, with `--batch` all six jobs are queued at once, chained by
scheduler dependencies. `--set` applies one override to one stage (`data-prep-pretrain`,
`data-prep-sft`, `data-prep-rl`, `pretrain`, `sft` or `rl`). With no arguments it runs the
`tiny` configs locally, on the embedded defaults: no env.toml, no W&B, no network.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from kit_cli import Pipeline
from nano3.recipe import RECIPE

__all__ = ["PIPELINE", "main"]

# The stages in dependency order (each one's inputs are published by stages before it).
PIPELINE = Pipeline(RECIPE, stages=(
    "data prep pretrain",
    "data prep sft",
    "data prep rl",
    "pretrain",
    "sft",
    "rl",
), default_config="tiny")


def main(argv: Sequence[str] | None = None) -> None:
    """Plan and run (or submit) the pipeline; exits with the first failing code."""
    sys.exit(PIPELINE.main(argv))


if __name__ == "__main__":
    main()
