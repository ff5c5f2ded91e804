"""The kit's own command groups: `art`, `job`, `env`, `runs`, and `rerun`."""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from kit_cli._app_shared import (
    as_data,
    complete_artifact,
    complete_profile,
    echo_json,
    guarded,
)

__all__ = ["add_kit_commands"]

art_app = typer.Typer(help="Inspect and manage artifacts in the registry.", no_args_is_help=True)
job_app = typer.Typer(help="Follow and control submitted jobs.", no_args_is_help=True)
env_app = typer.Typer(help="Execution profiles from env.toml.", no_args_is_help=True)
runs_app = typer.Typer(help="Runs launched by this CLI and recorded by trackers.",
                       no_args_is_help=True)

ArtRef = Annotated[str, typer.Argument(help="art://NAME[:VER] or NAME[:VER]",
                                       autocompletion=complete_artifact)]


def _uri(ref: str) -> str:
    return ref if ref.startswith("art://") else f"art://{ref}"


@art_app.command("ls")
@guarded
def art_ls(name: Annotated[str | None, typer.Argument(autocompletion=complete_artifact)] = None,
           ) -> None:
    """List artifact names, or the versions of NAME."""
    from kit_artifacts import get_registry

    registry = get_registry()
    for artifact in [name] if name else registry.names():
        versions = [as_data(v) for v in registry.versions(artifact)]
        labels = [f"v{v['version']}" if isinstance(v, dict) else f"v{v}" for v in versions]
        typer.echo(f"{artifact}\t{len(labels)} version(s)\t{' '.join(labels)}")


@art_app.command("show")
@guarded
def art_show(ref: ArtRef) -> None:
    """Show one artifact version: its data path, type, inputs and producer."""
    from kit_artifacts import get_registry

    registry = get_registry()
    found = registry.resolve(_uri(ref))
    echo_json({"ref": as_data(found), "uri": found.uri,
               "record": as_data(registry.record(found))})


def _tree_lines(graph: Any, root: str, direction: str) -> list[str]:
    data = as_data(json.loads(graph.to_json()) if isinstance(graph.to_json(), str)
                   else graph.to_json())
    labels = {str(n.get("id")): str(n.get("label", n.get("id"))) for n in data.get("nodes", [])}
    children: dict[str, list[str]] = {}
    for edge in data.get("edges", []):
        src, dst = (str(edge.get("source", edge.get("from"))),
                    str(edge.get("target", edge.get("to"))))
        parent, child = (dst, src) if direction == "up" else (src, dst)
        children.setdefault(parent, []).append(child)
    start = next((i for i, lbl in labels.items() if root in (i, lbl) or lbl.startswith(root)),
                 next(iter(labels), root))
    lines: list[str] = []

    def walk(node: str, prefix: str, last: bool, seen: frozenset[str]) -> None:
        branch = "" if not lines else ("└── " if last else "├── ")
        lines.append(f"{prefix}{branch}{labels.get(node, node)}")
        if node in seen:
            return
        kids = children.get(node, [])
        extension = "" if not branch else ("    " if last else "│   ")
        for index, kid in enumerate(kids):
            walk(kid, prefix + extension, index == len(kids) - 1, seen | {node})

    walk(start, "", True, frozenset())
    return lines


def _html(mermaid: str, title: str) -> str:
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>"
        f"{title}</title></head><body>\n<h1>{title}</h1>\n<pre class='mermaid'>\n"
        f"{mermaid}\n</pre>\n<script type='module'>import mermaid from "
        "'https://cdn.jsdelivr.net/npm/mermaid@10/dist/mermaid.esm.min.mjs';"
        "mermaid.initialize({startOnLoad: true});</script>\n</body></html>\n"
    )


@art_app.command("lineage")
@guarded
def art_lineage(
    ref: ArtRef,
    down: Annotated[bool, typer.Option("--down", help="Show consumers, not sources.")] = False,
    depth: Annotated[int | None, typer.Option(help="Stop after this many hops.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="tree, mermaid, dot, html or json.")] = "tree",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Print the lineage tree of an artifact, or write it as Mermaid/DOT/HTML/JSON."""
    from kit_artifacts import lineage
    from kit_cli._launches import atomic_write_text
    from kit_cli.errors import UsageError

    direction: Literal["up", "down"] = "down" if down else "up"
    graph = lineage(_uri(ref), direction=direction, depth=depth)
    renderers = {
        "tree": lambda: "\n".join(_tree_lines(graph, _uri(ref), direction)) + "\n",
        "mermaid": lambda: str(graph.to_mermaid()) + "\n",
        "dot": lambda: str(graph.to_dot()) + "\n",
        "json": lambda: str(graph.to_json()) + "\n",
        "html": lambda: _html(str(graph.to_mermaid()), f"Lineage of {_uri(ref)}"),
    }
    if fmt not in renderers:
        raise UsageError(f"unknown --format {fmt!r}", argument=fmt,
                         hint=f"use one of: {', '.join(renderers)}")
    text = renderers[fmt]()
    if output:
        from pathlib import Path

        atomic_write_text(Path(output), text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


@art_app.command("verify")
@guarded
def art_verify(ref: ArtRef) -> None:
    """Check an artifact's files against its recorded digests (exit 1 when they differ)."""
    from kit_artifacts import verify

    report = verify(_uri(ref))
    problems = {k: list(getattr(report, k)) for k in ("missing", "changed", "extra")}
    for kind, paths in problems.items():
        for path in paths:
            typer.echo(f"{kind}\t{path}")
    if any(problems.values()):
        raise typer.Exit(1)
    typer.echo(f"{_uri(ref)}: ok")


@art_app.command("alias")
@guarded
def art_alias(
    name: Annotated[str, typer.Argument(autocompletion=complete_artifact)],
    alias: str,
    version: Annotated[str, typer.Argument(help="vN or N")],
) -> None:
    """Point ALIAS of artifact NAME at VERSION."""
    from kit_artifacts import get_registry
    from kit_cli.errors import UsageError

    number = version.removeprefix("v")
    if not number.isdigit():
        raise UsageError(f"version {version!r} is not vN or N", argument=version)
    get_registry().set_alias(name, alias, int(number))
    typer.echo(f"{name}:{alias} -> v{number}")


@art_app.command("gc")
@guarded
def art_gc(yes: Annotated[bool, typer.Option("--yes", help="Delete (default: list).")] = False,
           ) -> None:
    """List (or with --yes delete) registry data that no version references."""
    from kit_artifacts import gc

    echo_json(as_data(gc(dry_run=not yes)))


@job_app.command("ls")
@guarded
def job_ls() -> None:
    """List submitted jobs."""
    from kit_run import list_jobs

    for job in list_jobs():
        data = as_data(job)
        typer.echo("\t".join(str(data.get(k, "")) for k in ("job_id", "name", "status"))
                   if isinstance(data, dict) else str(data))


@job_app.command("status")
@guarded
def job_status(job_id: str) -> None:
    """Show the status of JOB_ID."""
    from kit_run import job_status as status

    result = as_data(status(job_id))
    echo_json(result) if isinstance(result, dict | list) else typer.echo(str(result))


@job_app.command("logs")
@guarded
def job_logs(job_id: str,
             follow: Annotated[bool, typer.Option("--follow", "-f")] = False) -> None:
    """Print (or follow) the logs of JOB_ID."""
    from kit_run import job_logs as logs

    result = logs(job_id, follow=follow)
    if isinstance(result, str):
        typer.echo(result, nl=False)
    else:
        for line in result:
            typer.echo(line, nl=False)


@job_app.command("cancel")
@guarded
def job_cancel(job_id: str) -> None:
    """Cancel JOB_ID."""
    from kit_run import cancel_job

    cancel_job(job_id)
    typer.echo(f"cancelled {job_id}")


@env_app.command("ls")
@guarded
def env_ls() -> None:
    """List the profiles of env.toml."""
    from kit_run import list_profiles

    for name in list_profiles():
        typer.echo(str(name))


@env_app.command("show")
@guarded
def env_show(name: Annotated[str, typer.Argument(autocompletion=complete_profile)]) -> None:
    """Show one profile after `extends` is applied, secrets masked."""
    from kit_config import mask_secrets
    from kit_run import load_env_profile

    echo_json(mask_secrets(as_data(load_env_profile(name))))


@env_app.command("check")
@guarded
def env_check(name: Annotated[str | None, typer.Argument(autocompletion=complete_profile)]
              = None) -> None:
    """Validate every profile (or NAME); report each problem; exit 2 if any."""
    from kit_config.errors import KitError
    from kit_run import list_profiles, load_env_profile

    failures = 0
    for profile in [name] if name else list_profiles():
        try:
            load_env_profile(str(profile))
            typer.echo(f"ok\t{profile}")
        except KitError as error:
            failures += 1
            typer.echo(f"error\t{profile}\t{error}", err=True)
    if failures:
        raise typer.Exit(2)


@runs_app.command("ls")
@guarded
def runs_ls() -> None:
    """List launched runs, newest first, with the tracker's status when it has one."""
    from kit_cli._launches import list_launches

    for record in list_launches():
        status = _tracked_status(record.run_id) or record.status
        typer.echo(f"{record.run_id}\t{record.recipe} {record.stage}\t{record.mode}"
                   f"{':' + record.profile if record.profile else ''}\t{status}")


def _tracked_status(run_id: str) -> str | None:
    try:
        from kit_track import load_run

        return str(load_run(run_id).status)
    except Exception:  # no tracker record (yet): the launch record's status stands
        return None


@runs_app.command("show")
@guarded
def runs_show(run_id: str) -> None:
    """Show a run's launch record, pinned config and tracker record."""
    from kit_cli._launches import load_launch
    from kit_cli._runner import JOB_CONFIG_NAME

    record = load_launch(run_id)
    tracked: Any = None
    try:
        from kit_track import load_run

        tracked = as_data(load_run(run_id))
    except Exception:  # the stage may not have started its tracker
        tracked = None
    echo_json({"launch": as_data(record), "tracker": tracked})
    typer.echo((record.directory / JOB_CONFIG_NAME).read_text(encoding="utf-8"), nl=False)


@guarded
def rerun_command(
    run_id: str,
    run: Annotated[str | None, typer.Option("-r", "--run", autocompletion=complete_profile,
                                            help="Run attached under PROFILE.")] = None,
    batch: Annotated[str | None, typer.Option("-b", "--batch", autocompletion=complete_profile,
                                              help="Submit detached under PROFILE.")] = None,
    dry_run: Annotated[bool, typer.Option("-d", "--dry-run")] = False,
    allow_code_change: Annotated[bool, typer.Option(
        help="Run even if the checkout is not at the recorded commit.")] = False,
) -> None:
    """Rerun RUN_ID: same recomposed config, same pinned inputs, same code version."""
    from kit_cli._rerun import rerun

    code = rerun(run_id, run=run, batch=batch, dry_run=dry_run,
                 allow_code_change=allow_code_change)
    if code:
        raise typer.Exit(code)


def add_kit_commands(app: typer.Typer) -> None:
    """Attach the kit's command groups to `app`."""
    for name, group in (("art", art_app), ("job", job_app), ("env", env_app),
                        ("runs", runs_app)):
        app.add_typer(group, name=name, rich_help_panel="Kit")
    app.command("rerun", rich_help_panel="Kit")(rerun_command)
