"""The package's public API is exactly the documented list, sorted, and importable."""
from __future__ import annotations

import importlib

import pytest

import kit_cli

DOCUMENTED = [
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

MODULES = [
    "kit_cli._app", "kit_cli._app_shared", "kit_cli._argv", "kit_cli._cmd_art",
    "kit_cli._cmd_jobs", "kit_cli._cmd_runs", "kit_cli._commands", "kit_cli._discovery",
    "kit_cli._help", "kit_cli._jobcode", "kit_cli._jobspec", "kit_cli._launches",
    "kit_cli._pipeline", "kit_cli._plan", "kit_cli._profiles", "kit_cli._report",
    "kit_cli._report_data", "kit_cli._report_html", "kit_cli._report_svg", "kit_cli._rerun",
    "kit_cli._runner", "kit_cli._tree", "kit_cli.errors", "kit_cli.main", "kit_cli.recipe",
]


def test_package_all_is_exact():
    """`kit_cli.__all__` equals the documented list, is sorted, and every name resolves."""
    assert kit_cli.__all__ == DOCUMENTED
    for name in kit_cli.__all__:
        assert getattr(kit_cli, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_module_all_sorted_and_importable(module):
    """Each module has a sorted `__all__` whose names all exist."""
    mod = importlib.import_module(module)
    assert list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name)


def test_unknown_attribute():
    """The lazy export hook still raises AttributeError for unknown names."""
    with pytest.raises(AttributeError):
        kit_cli.no_such_name  # noqa: B018
