"""`nemotron rerun RUN_ID`: the same config, the same pinned inputs, the same code.

After a rerun that ran to its end here (local or `--run`), each artifact it published is
compared file by file (the integrity manifests) with the one the original run published
under the same name, and the result is printed: deterministic stages (data prep) must
rebuild identical files.
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

from kit_cli._argv import StageArgs
from kit_cli._launches import LaunchRecord, load_launch
from kit_cli._plan import JOB_CONFIG_NAME, plan_stage
from kit_cli._runner import execute_plan, render_plan
from kit_cli.recipe import Recipe

__all__ = ["compare_outputs", "deferred_pins", "find_recipe", "rerun"]


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
    from kit_cli.errors import RerunInputError

    if not record.deferred:
        return {}
    used: dict[str, str] = {}
    try:
        from kit_track import load_run

        for item in load_run(record.run_id).inputs:
            if item.uri.startswith("art://"):
                used.setdefault(_name(item.uri), item.uri)
    except Exception:  # no tracker record: every deferred input is unknown, reported below
        used = {}
    pins = {}
    for ref in record.deferred:
        name = _name(ref)
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
    composed = recompose(load_provenance(record.directory / "provenance"),
                         schema=stage.config_class())
    argv = ["rerun", run_id]
    argv += ["--run", run] if run else []
    argv += ["--batch", batch] if batch else []
    source = Path(record.config_source) if record.config_source else None
    deferred_names = [str(item.get("ref")) for item in record.inputs if item.get("deferred")]
    # Compare as recorded: deferred inputs were left unpinned in the recorded config.
    plan = plan_stage(recipe, stage, args, argv, fixed_pins=record.pins, config_source=source,
                      composed=composed, defer_inputs=[_name(r) for r in deferred_names])
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
    code = execute_plan(plan, rerun_of=run_id)
    digest = load_launch(plan.run_id).code_digest
    same = "the same as the original's" if digest == record.code_digest else \
        f"the original ran {record.code_digest or 'unrecorded code'}"
    print(f"code: digest {digest or '(unknown)'}: {same}", flush=True)
    if plan.mode == "batch":
        print(f"outputs not compared: the job runs detached (compare {run_id} and "
              f"{plan.run_id} with `nemotron art verify` once it ends)", flush=True)
    else:
        for line in compare_outputs(run_id, plan.run_id):
            print(line, flush=True)
    return code


def _outputs(run_id: str) -> dict[str, str] | None:
    """`{artifact name: art://name:vN}` a run published, from its tracker record."""
    try:
        from kit_track import load_run

        record = load_run(run_id)
    except Exception:  # no tracker record: nothing to compare against
        return None
    return {_name(o.uri): o.uri for o in record.outputs if o.uri.startswith("art://")}


def _files(uri: str) -> dict[str, tuple[int, str | None]] | None:
    from kit_artifacts import get_registry

    manifest = get_registry().manifest(uri)
    return None if manifest is None else {f.path: (f.size, f.digest) for f in manifest.files}


def compare_outputs(original: str, rebuilt: str) -> list[str]:
    """One line per artifact `original` published: are `rebuilt`'s files equal to its files?"""
    before, after = _outputs(original), _outputs(rebuilt)
    if before is None or after is None:
        missing = original if before is None else rebuilt
        return [f"outputs not compared: no tracker record of run {missing}"]
    lines = []
    for name, old_uri in sorted(before.items()):
        new_uri = after.get(name)
        if new_uri is None:
            lines.append(f"outputs: {old_uri} was not published again by {rebuilt}")
            continue
        old, new = _files(old_uri), _files(new_uri)
        if old is None or new is None:
            lines.append(f"outputs: {new_uri} vs {old_uri}: not compared (no file manifest)")
        elif old == new:
            lines.append(f"outputs: {new_uri} has the same files as {old_uri} "
                         f"({len(new)} files, {sum(size for size, _ in new.values())} bytes): "
                         "equal")
        else:
            changed = sorted(p for p in old.keys() & new.keys() if old[p] != new[p])
            gone, extra = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
            parts = [f"{label} {', '.join(paths[:5])}{' ...' if len(paths) > 5 else ''}"
                     for label, paths in (("changed", changed), ("missing", gone),
                                          ("extra", extra)) if paths]
            lines.append(f"outputs: {new_uri} differs from {old_uri}: {'; '.join(parts)}")
    return lines


def _name(uri: str) -> str:
    """The artifact NAME of `art://NAME[:VER][/SUB]` (the text itself if it does not parse)."""
    from kit_artifacts import parse_art_uri

    try:
        return parse_art_uri(uri).name
    except ValueError:
        return uri
