"""nemotron.kit: the Nemotron Kit API in one import.

A facade over the five kit packages, exposing the names of the earlier kit's overview
(`from nemotron.kit import cli, PretrainBlendsArtifact, ModelArtifact, ...`). Names load on
first access (PEP 562), so `import nemotron.kit` costs nothing until a name is used, and
nothing heavy (nemo-run, wandb, torch) is imported until a function needs it.

Submodules mirror the overview's module structure: `nemotron.kit.artifacts`, `.cli`,
`.config`, `.run`, `.trackers`, `.wandb`. `nemotron.kit.cli` is both: the module (CLI
building, env.toml parsing) and, called, the config `cli()` function, so
`from nemotron.kit import cli; cli(Config, config_file=...)` works before and after the
submodule loads.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit_artifacts import (
        Artifact,
        ArtifactRef,
        ArtifactRegistry,
        InputDatasetInfo,
        ModelArtifact,
        PretrainBlendsArtifact,
        SFTDataArtifact,
        SplitJsonlDataArtifact,
        get_registry,
        lineage,
    )
    from kit_cli import Recipe, Stage, run_stage
    from kit_config import (
        KitError,
        apply_hydra_overrides,
        cli,
        load_config,
        load_omegaconf_yaml,
        structure,
    )
    from kit_run import build_executor, load_env_profile
    from kit_track import (
        add_wandb_tags,
        current_run,
        finish_wandb,
        init_wandb_if_configured,
        start_run,
    )

__all__ = [
    "Artifact",
    "ArtifactRef",
    "ArtifactRegistry",
    "InputDatasetInfo",
    "KitError",
    "ModelArtifact",
    "PretrainBlendsArtifact",
    "Recipe",
    "SFTDataArtifact",
    "SplitJsonlDataArtifact",
    "Stage",
    "add_wandb_tags",
    "apply_hydra_overrides",
    "build_executor",
    "cli",
    "current_run",
    "finish_wandb",
    "get_registry",
    "init_wandb_if_configured",
    "lineage",
    "load_config",
    "load_env_profile",
    "load_omegaconf_yaml",
    "run_stage",
    "start_run",
    "structure",
]

# Public name -> the kit package that defines it.
_SOURCE: dict[str, str] = {
    "Artifact": "kit_artifacts",
    "ArtifactRef": "kit_artifacts",
    "ArtifactRegistry": "kit_artifacts",
    "InputDatasetInfo": "kit_artifacts",
    "KitError": "kit_config",
    "ModelArtifact": "kit_artifacts",
    "PretrainBlendsArtifact": "kit_artifacts",
    "Recipe": "kit_cli",
    "SFTDataArtifact": "kit_artifacts",
    "SplitJsonlDataArtifact": "kit_artifacts",
    "Stage": "kit_cli",
    "add_wandb_tags": "kit_track",
    "apply_hydra_overrides": "kit_config",
    "build_executor": "kit_run",
    "cli": "nemotron.kit.cli",  # the callable submodule (see the module docstring)
    "current_run": "kit_track",
    "finish_wandb": "kit_track",
    "get_registry": "kit_artifacts",
    "init_wandb_if_configured": "kit_track",
    "lineage": "kit_artifacts",
    "load_config": "kit_config",
    "load_env_profile": "kit_run",
    "load_omegaconf_yaml": "kit_config",
    "run_stage": "kit_cli",
    "start_run": "kit_track",
    "structure": "kit_config",
}


def __getattr__(name: str) -> Any:
    if name not in _SOURCE:
        raise AttributeError(f"module 'nemotron.kit' has no attribute {name!r}")
    module = importlib.import_module(_SOURCE[name])
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
