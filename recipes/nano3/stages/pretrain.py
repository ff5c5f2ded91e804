"""The nano3 pretrain stage job: `python -m nano3.stages.pretrain --config FILE`.

Backends: see `nano3.stages._config.BACKENDS`; `megatron-core` trains here.
"""
from __future__ import annotations

from collections.abc import Sequence

from kit_track import stage_main
from nano3.stages._config import PretrainConfig
from nano3.stages._train import model_work

__all__ = ["STAGE", "main"]

STAGE = "pretrain"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the config, train inside a tracked run, publish the model (rank 0)."""
    return stage_main(PretrainConfig, model_work(STAGE), stage=f"nano3.{STAGE}", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
