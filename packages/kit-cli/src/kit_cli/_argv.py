"""The one parser of a stage command line: global options and overrides, in any order.

Typer declares the same options for `--help` and completion, but a stage's raw argv is
parsed here only, so `nemotron nano3 pretrain ...` and `run_stage(RECIPE, "pretrain", argv)`
(what `pants run` calls) cannot disagree.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

__all__ = ["StageArgs", "parse_stage_argv"]

# Hydra override forms: key=value, +key=value, ++key=value, ~key, ~key=value.
_OVERRIDE = re.compile(r"^(\+\+|\+|~)?[A-Za-z_][\w\-]*(\.[\w\-]+|\[\d+\])*(=.*)?$", re.DOTALL)

_VALUE_OPTIONS = {
    "-c": "config",
    "--config": "config",
    "-r": "run",
    "--run": "run",
    "-b": "batch",
    "--batch": "batch",
    "--dry-run-out": "dry_run_out",
}
_FLAG_OPTIONS = {"-d": "dry_run", "--dry-run": "dry_run"}


@attrs.frozen
class StageArgs:
    """A parsed stage command line."""

    config: str | None = None
    run: str | None = None
    batch: str | None = None
    dry_run: bool = False
    dry_run_out: str | None = None
    overrides: tuple[str, ...] = ()

    @property
    def profile(self) -> str | None:
        """The env.toml profile to execute under, or None for a local run."""
        return self.run or self.batch

    @property
    def attached(self) -> bool:
        """Whether the CLI waits for the job (`--run`) rather than detaching (`--batch`)."""
        return self.batch is None


def parse_stage_argv(argv: Sequence[str]) -> StageArgs:
    """Parse `[-c NAME|PATH] [-r|-b PROFILE] [-d] [--dry-run-out FILE] [OVERRIDE...]`.

    Options and overrides may come in any order; `--dry-run-out FILE` implies `--dry-run`.
    There is no `--` tail for the stage script: everything the job gets is in the config,
    which is checked and recorded before launch.
    """
    from kit_cli.errors import UsageError

    values: dict[str, str] = {}
    dry_run = False
    overrides: list[str] = []
    args = list(argv)
    if "--" in args:
        raise UsageError(
            "a stage takes no script arguments after '--'",
            argument="--",
            hint="drop the '--' and write its overrides as key.path=value",
        )
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        option, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if len(arg) > 2 and arg[:2] in _VALUE_OPTIONS and not arg.startswith("--"):
            option, eq, inline = arg[:2], "=", arg[2:]  # -ctiny
        if option in _FLAG_OPTIONS and not eq:
            dry_run = True
            continue
        if option in _VALUE_OPTIONS:
            key = _VALUE_OPTIONS[option]
            if eq:
                value = inline
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                raise UsageError(f"option {option} needs a value", argument=arg)
            if not value or value.startswith("-"):
                raise UsageError(f"option {option} needs a value, got {value!r}", argument=arg)
            if key in values and values[key] != value:
                raise UsageError(
                    f"option {option} given twice ({values[key]!r} and {value!r})", argument=arg
                )
            values[key] = value
            continue
        if arg.startswith("-") and not arg.startswith("~"):
            raise UsageError(
                f"unknown option {arg!r}",
                argument=arg,
                hint="stage options are -c/--config, -r/--run, -b/--batch, -d/--dry-run, "
                "--dry-run-out FILE; overrides are key.path=value",
            )
        if not _OVERRIDE.match(arg) or ("=" not in arg and not arg.startswith("~")):
            raise UsageError(
                f"{arg!r} is not an override",
                argument=arg,
                hint="write overrides as key.path=value (or +key=value, ~key)",
            )
        overrides.append(arg)
    if "run" in values and "batch" in values:
        raise UsageError(
            "--run and --batch exclude each other",
            hint="use --run PROFILE to wait for the job, --batch PROFILE to detach",
        )
    # `values` is keyed by field name (config, run, batch, dry_run_out).
    return StageArgs(**values, dry_run=dry_run or "dry_run_out" in values,
                     overrides=tuple(overrides))
