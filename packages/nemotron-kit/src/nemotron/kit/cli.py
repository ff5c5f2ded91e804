"""nemotron.kit.cli: CLI building and env.toml parsing; called, it is the config `cli()`.

The seed both calls `cli(Config, config_file="config.yaml")` (from `from nemotron.kit import
cli`) and lists `nemotron.kit.cli` as a module. Python binds a package's submodule over a
function of the same name once the submodule loads, so this module is itself callable:
calling it is calling `kit_config.cli`. Its names (recipe building from kit-cli, env.toml
reading from kit-run) load on first access, like the rest of the facade.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

import kit_config

if TYPE_CHECKING:
    from kit_cli import Recipe, Stage, StageLaunch, discover_recipes, run_stage, run_stage_job
    from kit_config import cli
    from kit_run import (
        EnvFile,
        Profile,
        find_env_file,
        list_profiles,
        load_env_file,
        load_env_profile,
    )

__all__ = [
    "EnvFile",
    "Profile",
    "Recipe",
    "Stage",
    "StageLaunch",
    "cli",
    "discover_recipes",
    "find_env_file",
    "list_profiles",
    "load_env_file",
    "load_env_profile",
    "run_stage",
    "run_stage_job",
]

_SOURCE = {
    "EnvFile": "kit_run",
    "Profile": "kit_run",
    "Recipe": "kit_cli",
    "Stage": "kit_cli",
    "StageLaunch": "kit_cli",
    "cli": "kit_config",
    "discover_recipes": "kit_cli",
    "find_env_file": "kit_run",
    "list_profiles": "kit_run",
    "load_env_file": "kit_run",
    "load_env_profile": "kit_run",
    "run_stage": "kit_cli",
    "run_stage_job": "kit_cli",
}

# `inspect.signature(nemotron.kit.cli)` and `help()` show the function's.
__wrapped__ = kit_config.cli


def __getattr__(name: str) -> Any:
    if name not in _SOURCE:
        raise AttributeError(f"module 'nemotron.kit.cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _CallableModule(types.ModuleType):
    """A module that, called, runs `kit_config.cli` (the seed calls `cli(...)`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return kit_config.cli(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
