"""Errors of kit-cli: bad command lines, broken recipes, failed stages, rerun mismatches.

Every error derives from `CliError` (rooted in `kit_config.errors.KitError`) and from the
builtin it is, carries its context as attributes, and prints as one line saying what is
wrong, where, and how to fix it. `exit_code` is what `nemotron` exits with: 2 for usage or
input errors, 1 when a job ran and failed.
"""
from __future__ import annotations

from collections.abc import Sequence

from kit_config.errors import KitError

__all__ = [
    "CliError",
    "CodeVersionError",
    "ConfigNameError",
    "JobCodeError",
    "RecipeLoadError",
    "RerunInputError",
    "RerunMismatchError",
    "RunRecordNotFoundError",
    "StageFailedError",
    "UnknownStageError",
    "UsageError",
]


class CliError(KitError):
    """Base of kit-cli's errors."""


class UsageError(CliError, ValueError):
    """A command line is malformed: an unknown option, a missing value, a bad override."""

    def __init__(self, message: str, *, argument: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.argument = argument


class RecipeLoadError(CliError, ImportError):
    """A recipe registration (`module:attr`) could not be imported or is not a `Recipe`."""

    def __init__(self, name: str, spec: str, source: str, reason: str) -> None:
        super().__init__(
            f"recipe {name!r} ({spec}, from {source}) failed to load: {reason}",
            hint="fix the import error or remove the registration",
        )
        self.recipe_name = name
        self.spec = spec
        self.source = source
        self.reason = reason


class UnknownStageError(CliError, LookupError):
    """A recipe has no stage of the given name."""

    def __init__(self, recipe: str, stage: str, known: Sequence[str]) -> None:
        super().__init__(
            f"recipe {recipe!r} has no stage {stage!r}",
            hint=f"known stages: {', '.join(known) or '(none)'}",
        )
        self.recipe = recipe
        self.stage = stage
        self.known = tuple(known)


class ConfigNameError(CliError, FileNotFoundError):
    """`-c NAME` names neither a built-in config of the stage nor an existing file."""

    def __init__(self, name: str, config_dir: str, available: Sequence[str]) -> None:
        super().__init__(
            f"config {name!r} is neither a file nor a config in {config_dir}",
            hint=f"use one of: {', '.join(available) or '(none)'}, or a path to a YAML file",
        )
        self.name = name
        self.config_dir = config_dir
        self.available = tuple(available)


class JobCodeError(CliError, FileNotFoundError):
    """A stage's `job_target` (PEX path or Pants address) gave no PEX to ship with the job."""

    def __init__(self, stage: str, target: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"stage {stage!r}: no job PEX from job_target {target!r}: {reason}",
            hint=hint
            or "build it (`./pants package ADDRESS`) or point NEMOTRON_JOB_PEX at a PEX file",
        )
        self.stage = stage
        self.target = target
        self.reason = reason


class RunRecordNotFoundError(CliError, LookupError):
    """No launch record exists for a run id (`nemotron runs show`, `nemotron rerun`)."""

    def __init__(self, run_id: str, directory: str) -> None:
        super().__init__(
            f"no run {run_id!r} recorded in {directory}",
            hint="list recorded runs with `nemotron runs ls`",
        )
        self.run_id = run_id
        self.directory = directory


class RerunInputError(CliError, LookupError):
    """A rerun cannot tell which version of an input the recorded run used."""

    def __init__(self, run_id: str, ref: str) -> None:
        super().__init__(
            f"rerun of {run_id}: deferred input {ref} was resolved by the job, which recorded "
            "no version it resolved",
            hint=f"the run cannot be reproduced exactly; check `nemotron runs show {run_id}`",
        )
        self.run_id = run_id
        self.ref = ref


class RerunMismatchError(CliError, ValueError):
    """The recomposed config of a rerun differs from the config the run recorded."""

    def __init__(self, run_id: str, diff: str) -> None:
        super().__init__(
            f"rerun of {run_id}: the recomposed config differs from the recorded one "
            f"({diff.count(chr(10)) + 1} diff lines above)",
            hint="a config file or resolver changed since the run; restore it or start a new run",
        )
        self.run_id = run_id
        self.diff = diff


class CodeVersionError(CliError, RuntimeError):
    """A rerun would run other code than the recorded run did."""

    def __init__(self, run_id: str, recorded: str | None, current: str | None, dirty: bool):
        state = f"{current or 'unknown'}{' (dirty)' if dirty else ''}"
        super().__init__(
            f"rerun of {run_id}: the run used commit {recorded or 'unknown'}, the checkout is "
            f"at {state}",
            hint=f"`git checkout {recorded}` first, or pass --allow-code-change",
        )
        self.run_id = run_id
        self.recorded = recorded
        self.current = current
        self.dirty = dirty


class StageFailedError(CliError, RuntimeError):
    """A stage ran (locally or as a job) and exited non-zero."""

    exit_code = 1

    def __init__(self, stage: str, run_id: str, job_exit_code: int | None, where: str) -> None:
        super().__init__(
            f"stage {stage!r} (run {run_id}, {where}) failed with exit code {job_exit_code}",
            hint=f"inspect it with `nemotron runs show {run_id}`",
        )
        self.stage = stage
        self.run_id = run_id
        self.job_exit_code = job_exit_code
        self.where = where
