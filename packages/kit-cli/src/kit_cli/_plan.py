"""Plan a stage launch: compose the config, pin its artifact inputs, find the code version.

A `StagePlan` is everything decided before anything runs; building one writes and submits
nothing, which is what makes `--dry-run` honest (it prints the very plan a run executes).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kit_cli._argv import StageArgs
from kit_cli._launches import code_version
from kit_cli.recipe import Recipe, Stage

if TYPE_CHECKING:
    from kit_artifacts import PinnedInput

__all__ = ["JOB_CONFIG_NAME", "StagePlan", "plan_stage"]

# The config file's name next to the job (and in the launch folder).
JOB_CONFIG_NAME = "config.yaml"


@attrs.frozen
class StagePlan:
    """Everything decided before a stage runs; building one writes and submits nothing."""

    recipe: Recipe
    stage: Stage
    args: StageArgs
    argv: tuple[str, ...]
    run_id: str
    config_source: Path | None
    config: Any  # the pinned, secret-free config as a plain container
    inputs: tuple[PinnedInput, ...]
    git_commit: str | None
    git_dirty: bool | None
    after: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        """`local`, `attached` (`--run`) or `batch` (`--batch`)."""
        if self.args.profile is None:
            return "local"
        return "attached" if self.args.attached else "batch"

    @property
    def deferred(self) -> tuple[str, ...]:
        """Input refs left unpinned for the job to resolve when it runs."""
        return tuple(item.ref for item in self.inputs if item.deferred)

    @property
    def pins(self) -> dict[str, str]:
        """`{ref as written: pinned art://NAME:vN}` of the inputs pinned now."""
        return {item.ref: item.uri for item in self.inputs if not item.deferred}

    def config_yaml(self) -> str:
        """The pinned config as YAML: exactly what the stage receives."""
        from omegaconf import OmegaConf

        return OmegaConf.to_yaml(OmegaConf.create(self.config))


def plan_stage(
    recipe: Recipe,
    stage: Stage,
    args: StageArgs,
    argv: Sequence[str],
    *,
    run_id: str | None = None,
    fixed_pins: Mapping[str, str] | None = None,
    config_source: Path | None = None,
    composed: Any = None,
    after: Sequence[str] = (),
    defer_inputs: Collection[str] = (),
) -> StagePlan:
    """Compose the config, pin its artifact inputs (except `defer_inputs`), find the code.

    `after` (job ids the stage waits for) needs a profile: a local run cannot wait on jobs.
    """
    from omegaconf import OmegaConf

    from kit_artifacts import pin_refs
    from kit_cli.errors import UsageError
    from kit_config import compose, mask_secrets, new_run_id

    if after and args.profile is None:
        raise UsageError(
            f"stage {stage.name!r} should start after job(s) {', '.join(after)}, "
            "but runs locally",
            hint="submit it with --batch PROFILE (a Slurm profile) to chain jobs",
        )
    if composed is None:
        config_source = stage.resolve_config(args.config)
        composed = compose(config_source, args.overrides)
    container = OmegaConf.to_container(composed, resolve=False)
    pinned, inputs = pin_refs(container, fixed=fixed_pins, defer=defer_inputs)
    spec = importlib.util.find_spec(stage.module)
    if spec is None:
        from kit_cli.errors import RecipeLoadError

        raise RecipeLoadError(recipe.name, stage.module, f"stage {stage.name}", "module not found")
    commit, dirty = code_version(spec.origin)
    return StagePlan(
        recipe=recipe,
        stage=stage,
        args=args,
        argv=tuple(argv),
        run_id=run_id or new_run_id(),
        config_source=config_source,
        config=mask_secrets(pinned),
        inputs=tuple(inputs),
        git_commit=commit,
        git_dirty=dirty,
        after=tuple(after),
    )

