"""Plan a stage launch: compose the config, pin its artifact inputs, find the code version.

A `StagePlan` is everything decided before anything runs; building one writes and submits
nothing, which is what makes `--dry-run` honest (it prints the very plan a run executes).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kit_cli._argv import StageArgs
from kit_cli._launches import code_version
from kit_cli._pinning import PinnedInput, escape_deferred, pin_config
from kit_cli.recipe import Recipe, Stage

__all__ = [
    "JOB_CONFIG_NAME",
    "StagePlan",
    "check_config",
    "mask_argv",
    "plan_stage",
    "resolve_input",
]

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


def resolve_input(ref: str) -> PinnedInput:
    """The registry version `ref` (`art://NAME[:VER]`) names now, as a pinned input."""
    from kit_artifacts import get_registry

    found = get_registry().resolve(ref)
    return PinnedInput(ref=ref, uri=found.uri, path=str(found.path), type=str(found.type))


def check_config(composed: Any, planned: Any, schema: type) -> None:
    """Structure and validate the config as the job will see it; raise every problem at once.

    `planned` is the pinned plain container (deferred inputs escaped to literal text, as
    they do not exist yet); its values are laid over `composed` in place, so each problem
    still names the file and line (or override) its key came from.
    """
    from omegaconf import DictConfig, ListConfig

    from kit_config import structure

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
    structure(composed, schema)


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

    from kit_cli._launches import new_run_id
    from kit_cli.errors import UsageError
    from kit_config import compose, mask_secrets

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
    pinned, inputs = pin_config(container, resolve_input, fixed_pins, defer_inputs)
    if schema is not None:
        deferred = [item.ref for item in inputs if item.deferred]
        check_config(composed, escape_deferred(pinned, deferred), schema)
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


def mask_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with the value of every secret-keyed override (`api_key=...`) masked."""
    from kit_config import is_secret_key

    masked = []
    for arg in argv:
        key, eq, _ = arg.partition("=")
        leaf = key.lstrip("+~").rsplit(".", 1)[-1]
        masked.append(f"{key}=***" if eq and leaf and is_secret_key(leaf) else arg)
    return masked
