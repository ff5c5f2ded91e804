"""The nano3 rl stage: `python -m nano3.stages.rl --config FILE [overrides]`.

Backends: see `nano3.stages._config.BACKENDS`; `local` trains with PyTorch here.
"""
from __future__ import annotations

from collections.abc import Sequence

from nano3.stages._entry import main_for

__all__ = ["STAGE", "main"]

STAGE = "rl"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the config, train inside a tracked run, publish the model (rank 0)."""
    return main_for(STAGE, argv)


if __name__ == "__main__":
    raise SystemExit(main())
