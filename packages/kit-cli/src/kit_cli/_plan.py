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

__all__ = ["JOB_CONFIG_NAME", "StagePlan", "check_config", "plan_stage"]

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


def check_config(composed: Any, planned: Any, schema: type,
                 deferred_paths: Collection[str] = ()) -> None:
    """Structure and validate the config as the job will see it; raise every problem at once.

    `planned` is the pinned plain container (deferred inputs escaped to literal text, as
    they do not exist yet); its values are laid over `composed` in place, so each problem
    still names the file and line (or override) its key came from. Problems at
    `deferred_paths` (keys holding a deferred input) are not raised.
    """
    from omegaconf import DictConfig, ListConfig

    from kit_config import ConfigValidationError, structure

    def overlay(node: Any, plain: Any) -> None:
        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            child = node._get_node(key)
            if isinstance(child, DictConfig | ListConfig):
                if isinstance(plain[key], dict | list) and not child._is_missing():
                    overlay(child, plain[key])
            elif isinstance(plain[key], str) and child._value() != plain[key]:
                node[key] = plain[key]

    overlay(composed, planned)
    try:
        structure(composed, schema)
    except ConfigValidationError as error:
        # A deferred input (escaped: an upstream job publishes it later) cannot be checked
        # yet; the job checks it when it runs. Every other problem stands.
        problems = [p for p in error.problems if p.path not in deferred_paths]
        if problems:
            raise ConfigValidationError(problems, schema=schema.__name__,
                                        hint="fix each key listed") from None


def _changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Key paths (`a.b`, `a[0]`) whose leaf differs between two same-shaped containers."""
    if isinstance(before, dict):
        return [p for key in before for p in _changed_paths(
            before[key], after[key], f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(before, list):
        return [p for i, item in enumerate(before)
                for p in _changed_paths(item, after[i], f"{prefix}[{i}]")]
    return [prefix] if before != after else []


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
    """Compose the config, pin its artifact inputs (except `defer_inputs`), check it, find the code.

    With a typed config (`Stage.config`) the composition starts from the class's defaults
    and the result is structured and validated here, so a bad value fails before any
    launch folder, PEX or job exists (`ConfigValidationError`, exit code 2).

    `after` (job ids the stage waits for) needs a profile: a local run cannot wait on jobs.
    """
    from omegaconf import OmegaConf

    from kit_artifacts import escape_refs, pin_refs
    from kit_cli.errors import UsageError
    from kit_config import compose, mask_secrets, new_run_id

    if after and args.profile is None:
        raise UsageError(
            f"stage {stage.name!r} should start after job(s) {', '.join(after)}, "
            "but runs locally",
            hint="submit it with --batch PROFILE (a Slurm profile) to chain jobs",
        )
    schema = stage.config_class()
    if composed is None:
        config_source = stage.resolve_config(args.config)
        composed = compose(config_source, args.overrides, schema=schema)
    container = OmegaConf.to_container(composed, resolve=False)
    pinned, inputs = pin_refs(container, fixed=fixed_pins, defer=defer_inputs)
    if schema is not None:
        names = {item.name for item in inputs if item.deferred}
        escaped = escape_refs(pinned, names)
        check_config(composed, escaped, schema, _changed_paths(pinned, escaped))
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

