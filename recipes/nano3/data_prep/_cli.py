"""The shared `python -m nano3.data_prep.<stage> --config FILE [overrides]` entry point."""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kit_config.errors import KitError
from nano3.data_prep._config import StageConfig
from nano3.data_prep._stage import published_name

__all__ = ["load_stage_config", "run_stage_main"]

C = TypeVar("C", bound=StageConfig)


def load_stage_config(cls: type[C], argv: Sequence[str], *, prog: str | None = None) -> C:
    """`--config FILE` plus Hydra-style overrides -> the stage's typed config."""
    from kit_config import cli

    return cli(cls, argv=list(argv), prog=prog)


def run_stage_main(cls: type[C], prepare: Callable[[C], Any], *, stage: str,
                   argv: Sequence[str] | None = None) -> int:
    """Load the config, run `prepare` inside a tracked run, publish once (rank 0)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        cfg = load_stage_config(cls, argv, prog=f"python -m nano3.{stage}")
    except SystemExit as exc:  # kit_config.cli has already printed the one-line error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        import kit_config
        import kit_track

        with kit_track.start_run(stage=stage, config=kit_config.unstructure(cfg)):
            artifact = prepare(cfg)
            if artifact is not None:  # only the merging rank publishes
                ref = artifact.save(name=published_name(cfg))
                print(ref.uri, flush=True)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
