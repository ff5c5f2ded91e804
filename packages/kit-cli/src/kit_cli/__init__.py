"""kit-cli: the `nemotron` CLI: recipe discovery, the one stage runner, kit commands.

Exports load lazily (PEP 562) so that `import kit_cli.main` and recipe registration
modules, which import `kit_cli.recipe`, stay fast: `nemotron --help` must not pay for
kit-config, OmegaConf or anything heavier.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit_cli._argv import StageArgs, parse_stage_argv
    from kit_cli._discovery import RecipeEntry, discover_recipes
    from kit_cli._pipeline import Pipeline, PipelineJob, PipelineStep
    from kit_cli._report import write_art_report, write_run_report
    from kit_cli._runner import StageLaunch, report_error, run_stage, run_stage_job
    from kit_cli.errors import CliError
    from kit_cli.recipe import Recipe, Stage

__all__ = [
    "CliError",
    "Pipeline",
    "PipelineJob",
    "PipelineStep",
    "Recipe",
    "RecipeEntry",
    "Stage",
    "StageArgs",
    "StageLaunch",
    "discover_recipes",
    "parse_stage_argv",
    "report_error",
    "run_stage",
    "run_stage_job",
    "write_art_report",
    "write_run_report",
]

_WHERE = {
    "CliError": "kit_cli.errors",
    "Pipeline": "kit_cli._pipeline",
    "PipelineJob": "kit_cli._pipeline",
    "PipelineStep": "kit_cli._pipeline",
    "Recipe": "kit_cli.recipe",
    "RecipeEntry": "kit_cli._discovery",
    "Stage": "kit_cli.recipe",
    "StageArgs": "kit_cli._argv",
    "StageLaunch": "kit_cli._runner",
    "discover_recipes": "kit_cli._discovery",
    "parse_stage_argv": "kit_cli._argv",
    "report_error": "kit_cli._runner",
    "run_stage": "kit_cli._runner",
    "run_stage_job": "kit_cli._runner",
    "write_art_report": "kit_cli._report",
    "write_run_report": "kit_cli._report",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'kit_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
