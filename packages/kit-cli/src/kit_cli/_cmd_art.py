"""`nemotron art ls|show|lineage|report|verify|alias|gc`: the artifact registry from the shell."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from kit_cli._app_shared import complete_artifact, echo_json, guarded

__all__ = ["art_app", "artifact_uri"]

art_app = typer.Typer(help="Inspect and manage artifacts in the registry.", no_args_is_help=True)

ArtRef = Annotated[str, typer.Argument(help="art://NAME[:VER] or NAME[:VER]",
                                       autocompletion=complete_artifact)]
_FORMATS = ("tree", "mermaid", "dot", "html", "json")


def artifact_uri(ref: str) -> str:
    """`ref` as an `art://` URI (bare `NAME[:VER]` accepted)."""
    return ref if ref.startswith("art://") else f"art://{ref}"


@art_app.command("ls")
@guarded
def art_ls(name: Annotated[str | None, typer.Argument(
        help="List the versions of NAME (default: every artifact name).",
        autocompletion=complete_artifact)] = None) -> None:
    """List artifact names with their versions and aliases, or the versions of NAME."""
    from kit_artifacts import get_registry

    registry = get_registry()
    if name is None:
        for artifact in registry.names():
            versions = registry.versions(artifact)
            aliases = registry.aliases(artifact)
            typer.echo(f"{artifact}\t{len(versions)} version(s)\t"
                       + " ".join(f"v{v}" for v in versions)
                       + "\t" + " ".join(f"{a}=v{v}" for a, v in aliases.items()))
        return
    versions = registry.versions(name)
    if not versions:
        registry.resolve(artifact_uri(name))  # raises ArtifactNotFoundError with a hint
    by_version: dict[int, list[str]] = {}
    for alias, number in registry.aliases(name).items():
        by_version.setdefault(number, []).append(alias)
    for number in versions:
        record = registry.record(f"art://{name}:v{number}")
        typer.echo(f"v{number}\t{record.type}\t{record.created_at}\t"
                   f"run {record.producer.run_id}\t{','.join(by_version.get(number, []))}")


@art_app.command("show")
@guarded
def art_show(ref: ArtRef) -> None:
    """Show one version: data path, type, inputs, producer run, integrity, metadata (JSON)."""
    from kit_artifacts import get_registry
    from kit_config import plain_data

    registry = get_registry()
    record = registry.record(artifact_uri(ref))
    aliases = [a for a, v in registry.aliases(record.name).items() if v == record.version]
    echo_json({"uri": record.uri, "aliases": aliases, **plain_data(record)})


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
    """Print the lineage tree of a version (data -> run -> model), or write Mermaid/DOT/HTML.

    `-f html` writes the offline report of `nemotron art report` (default file:
    `$NEMOTRON_HOME/reports/NAME-vN.html`).
    """
    from kit_artifacts import lineage
    from kit_cli._tree import lineage_tree
    from kit_cli.errors import UsageError
    from kit_config import atomic_write_text

    if fmt not in _FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", argument=fmt,
                         hint=f"use one of: {', '.join(_FORMATS)}")
    if depth is not None and depth < 1:
        raise UsageError(f"--depth must be at least 1, got {depth}", argument=str(depth))
    if fmt == "html":
        typer.echo(f"wrote {_report(ref, output, down=down, depth=depth, verify=True)}")
        return
    direction: Literal["up", "down"] = "down" if down else "up"
    graph = lineage(artifact_uri(ref), direction=direction, depth=depth)
    if fmt == "tree":
        text = "\n".join(lineage_tree(graph)) + "\n"
    elif fmt == "mermaid":
        text = graph.to_mermaid()
    elif fmt == "dot":
        text = graph.to_dot()
    else:
        text = graph.to_json() + "\n"
    if output:
        atomic_write_text(Path(output), text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def _report(ref: str, output: str | None, *, down: bool, depth: int | None,
            verify: bool) -> Path:
    from kit_cli._report import write_art_report

    return write_art_report(artifact_uri(ref), output, down=down, depth=depth, verify=verify)


@art_app.command("report")
@guarded
def art_report(
    ref: ArtRef,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write to FILE (default $NEMOTRON_HOME/reports/NAME-vN.html).")
    ] = None,
    down: Annotated[bool, typer.Option("--down", help="Show consumers, not sources.")] = False,
    depth: Annotated[int | None, typer.Option(help="Stop after this many hops.")] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify", help="Do not re-hash artifact files (integrity 'not checked').")] = False,
) -> None:
    """Write one offline HTML page: lineage graph, metric curves and records of its runs."""
    from kit_cli.errors import UsageError

    if depth is not None and depth < 1:
        raise UsageError(f"--depth must be at least 1, got {depth}", argument=str(depth))
    typer.echo(f"wrote {_report(ref, output, down=down, depth=depth, verify=not no_verify)}")


@art_app.command("verify")
@guarded
def art_verify(ref: ArtRef) -> None:
    """Re-hash a version's files against its manifest; exit 1 if any is missing/changed/extra."""
    from kit_artifacts import verify

    report = verify(artifact_uri(ref))
    for kind in ("missing", "changed", "extra"):
        for path in getattr(report, kind):
            typer.echo(f"{kind}\t{path}")
    if not report.ok:
        typer.echo(f"{report.uri}: FAILED ({report.checked} files checked)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{report.uri}: ok ({report.checked} files checked)")


@art_app.command("alias")
@guarded
def art_alias(
    name: Annotated[str, typer.Argument(autocompletion=complete_artifact)],
    alias: str,
    version: Annotated[str | None, typer.Argument(help="vN or N (not with --remove)")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Delete the alias.")] = False,
) -> None:
    """Point ALIAS of artifact NAME at VERSION (or delete it with --remove)."""
    from kit_artifacts import get_registry
    from kit_cli.errors import UsageError

    registry = get_registry()
    if remove:
        if version is not None:
            raise UsageError("--remove takes no VERSION", argument=version)
        registry.remove_alias(name, alias)
        typer.echo(f"removed {name}:{alias}")
        return
    if version is None:
        raise UsageError(f"missing VERSION for alias {name}:{alias}",
                         hint=f"nemotron art alias {name} {alias} vN")
    number = version.removeprefix("v")
    if not number.isdigit():
        raise UsageError(f"version {version!r} is not vN or N", argument=version,
                         hint=f"nemotron art ls {name} lists the versions")
    target = registry.set_alias(name, alias, int(number))
    typer.echo(f"{name}:{alias} -> v{target.version}")


@art_app.command("gc")
@guarded
def art_gc(
    yes: Annotated[bool, typer.Option("--yes", help="Delete (default: only list).")] = False,
    keep_last: Annotated[int, typer.Option(help="Versions of each name always kept.")] = 1,
) -> None:
    """List (or with --yes delete) versions that no alias, newest version or consumer keeps."""
    from kit_artifacts import gc
    from kit_cli.errors import UsageError

    if keep_last < 0:
        raise UsageError(f"--keep-last must be >= 0, got {keep_last}", argument=str(keep_last))
    report = gc(dry_run=not yes, keep_last=keep_last)
    verb = "would remove" if report.dry_run else "removed"
    for uri in report.removed:
        typer.echo(f"{verb}\t{uri}")
    for path in report.stale_temp_files:
        typer.echo(f"stale temp\t{path}")
    typer.echo(f"{len(report.removed)} version(s) {verb}, {len(report.kept)} kept"
               + ("" if yes else "; pass --yes to delete"))
