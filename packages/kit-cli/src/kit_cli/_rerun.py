"""`nemotron rerun RUN_ID`: the same config, the same pinned inputs, the same code."""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

from kit_cli._argv import StageArgs
from kit_cli._launches import LaunchRecord, load_launch
from kit_cli._plan import JOB_CONFIG_NAME, plan_stage
from kit_cli._runner import execute_plan, render_plan
from kit_cli.recipe import Recipe

__all__ = ["deferred_pins", "find_recipe", "rerun"]


def find_recipe(name: str) -> Recipe:
    """The discovered recipe called `name`; `RecipeLoadError` if it is broken or missing."""
    from kit_cli._discovery import discover_recipes
    from kit_cli.errors import RecipeLoadError

    for entry in discover_recipes():
        if entry.name == name:
            if entry.recipe is None:
                raise RecipeLoadError(name, entry.spec, entry.source, entry.error or "unknown")
            return entry.recipe
    raise RecipeLoadError(name, "?", "discovery", "no recipe of that name is registered")


def deferred_pins(record: LaunchRecord) -> dict[str, str]:
    """Pins of a run's deferred inputs: the versions its job resolved, from its tracker record.

    Raises `RerunInputError` when the job left no record of one of them (it never ran,
    or failed before resolving it): the run cannot be reproduced exactly.
    """
    from kit_cli._pinning import artifact_name
    from kit_cli.errors import RerunInputError

    if not record.deferred:
        return {}
    used: dict[str, str] = {}
    try:
        from kit_track import load_run

        for item in load_run(record.run_id).inputs:
            if item.uri.startswith("art://"):
                used.setdefault(artifact_name(item.uri), item.uri)
    except Exception:  # no tracker record: every deferred input is unknown, reported below
        used = {}
    pins = {}
    for ref in record.deferred:
        name = artifact_name(ref)
        if name not in used:
            raise RerunInputError(record.run_id, ref)
        pins[ref] = used[name]
    return pins


def rerun(
    run_id: str,
    *,
    run: str | None = None,
    batch: str | None = None,
    dry_run: bool = False,
    allow_code_change: bool = False,
) -> int:
    """Recompose, check against the recorded config, pin the recorded inputs, and run."""
    from kit_cli.errors import CodeVersionError, RerunMismatchError
    from kit_config import load_provenance, recompose

    record = load_launch(run_id)
    recipe = find_recipe(record.recipe)
    stage = recipe.stage(record.stage)
    if run is None and batch is None and record.profile is not None:
        run, batch = (None, record.profile) if record.mode == "batch" else (record.profile, None)
    args = StageArgs(
        config=record.config_source,
        run=run,
        batch=batch,
        dry_run=dry_run,
        overrides=tuple(record.overrides),
    )
    composed = recompose(load_provenance(record.directory / "provenance"))
    argv = ["rerun", run_id]
    argv += ["--run", run] if run else []
    argv += ["--batch", batch] if batch else []
    source = Path(record.config_source) if record.config_source else None
    deferred_names = [str(item.get("ref")) for item in record.inputs if item.get("deferred")]
    # Compare as recorded: deferred inputs were left unpinned in the recorded config.
    plan = plan_stage(recipe, stage, args, argv, fixed_pins=record.pins, config_source=source,
                      composed=composed, defer_inputs=_names(deferred_names))
    recorded = (record.directory / JOB_CONFIG_NAME).read_text(encoding="utf-8")
    current = plan.config_yaml()
    if current != recorded:
        diff = "".join(
            difflib.unified_diff(
                recorded.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile=f"{run_id} (recorded)",
                tofile="recomposed now",
            )
        )
        sys.stderr.write(diff)
        raise RerunMismatchError(run_id, diff)
    if not allow_code_change and (plan.git_commit != record.git_commit or plan.git_dirty):
        raise CodeVersionError(run_id, record.git_commit, plan.git_commit, bool(plan.git_dirty))
    if record.deferred:
        # Then pin them to the versions the original job actually used.
        plan = plan_stage(recipe, stage, args, argv, run_id=plan.run_id,
                          fixed_pins={**record.pins, **deferred_pins(record)},
                          config_source=source, composed=composed)
    if dry_run:
        sys.stdout.write(render_plan(plan))
        return 0
    return execute_plan(plan, rerun_of=run_id)


def _names(refs: list[str]) -> list[str]:
    from kit_cli._pinning import artifact_name

    return [artifact_name(ref) for ref in refs]
