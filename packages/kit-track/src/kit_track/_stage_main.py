"""`stage_main`: the one job-side entry of every recipe stage (data prep and training alike).

    python -m nano3.stages.pretrain --config config.yaml

The launcher (kit-cli) has already composed, pinned and checked the config; the job reads
that one file, composes it once (the config class's defaults under it, so a hand-written
partial file works too), opens the tracked run with it (its `${art:...}` inputs resolve
while the run listens, which is how lineage is recorded), structures it once, calls the
stage's function, and publishes what it returns from rank 0 only. Overrides are not taken
here: they belong on the launcher's command line, where they are checked, pinned and
recorded before anything runs.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from kit_config.errors import KitError, OverrideError

if TYPE_CHECKING:
    from kit_track._run import Run

__all__ = ["stage_main"]

C = TypeVar("C")

_USAGE_HINT = ("the job takes --config FILE only: put KEY=VALUE overrides on the launcher's "
               "command line (nemotron RECIPE STAGE ... KEY=VALUE)")


def _config_path(argv: Sequence[str]) -> str | None:
    """The FILE of `--config FILE` / `-c FILE` / `--config=FILE`; anything else is refused."""
    path: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-c", "--config") and args:
            path = args.pop(0)
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
        else:
            raise OverrideError(f"unexpected argument {arg!r}", override=arg, hint=_USAGE_HINT)
    return path


def _report(error: KitError) -> int:
    print(f"error: {error}", file=sys.stderr, flush=True)
    return int(error.exit_code)


def stage_main(
    config_cls: type[C],
    work: Callable[[C, Run], Any],
    *,
    stage: str,
    argv: Sequence[str] | None = None,
    artifact_name: Callable[[C], str] | None = None,
) -> int:
    """Run one stage job; returns its exit code (0 ok, a `KitError`'s code, e.g. 2).

    `work(cfg, run)` does the stage's work and returns the artifact to publish (an unsaved
    `kit_artifacts.Artifact`) or None. It is published under `artifact_name(cfg)` (default:
    the config's `artifact_name` field) when this process is rank 0, and its URI printed.
    """
    from kit_config import cli, compose, structure
    from kit_track._run import start_run

    args = list(sys.argv[1:] if argv is None else argv)
    prog = f"{stage} job"
    if "-h" in args or "--help" in args:
        try:
            cli(config_cls, argv=["--help"], prog=prog)
        except SystemExit as done:
            return int(done.code or 0)
    try:
        composed = compose(_config_path(args), schema=config_cls)
        with start_run(stage=stage, config=composed, argv=[prog, *args]) as run:
            try:
                cfg = structure(composed, config_cls)
                artifact = work(cfg, run)
                if artifact is not None and run.is_rank_zero:
                    name = artifact_name(cfg) if artifact_name else cfg.artifact_name  # type: ignore[attr-defined]
                    print(f"[{stage}] published {artifact.save(name=name).uri}", flush=True)
            except KitError as error:  # the run records the same exit code the job returns
                raise SystemExit(_report(error)) from None
    except KitError as error:
        return _report(error)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0
