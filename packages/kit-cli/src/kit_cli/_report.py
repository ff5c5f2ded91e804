"""`nemotron art report` / `nemotron runs report`: one offline HTML page per version or run.

The page (see `_report_html`) holds the lineage graph, the metric curves of every run in it
and each run's record. Default destination: `$NEMOTRON_HOME/reports/<what>.html`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

__all__ = ["default_report_path", "write_art_report", "write_run_report"]


def default_report_path(what: str) -> Path:
    """`$NEMOTRON_HOME/reports/<what>.html`, `what` made file-name safe."""
    from kit_config import nemotron_home

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", what.removeprefix("art://")).strip("-")
    return nemotron_home() / "reports" / f"{slug or 'report'}.html"


def _write(title: str, nodes: dict[str, Any], edges: set[tuple[str, str]], output: Path,
           registry: Any, verify: bool) -> Path:
    from kit_cli._report_data import collect
    from kit_cli._report_html import render_html
    from kit_config import atomic_write_text

    data = collect(title, nodes.values(), edges, registry=registry, verify=verify)
    atomic_write_text(output, render_html(data))
    return output


def _merge(nodes: dict[str, Any], edges: set[tuple[str, str]], graph: Any) -> None:
    for node_id, node in graph.nodes.items():
        nodes.setdefault(node_id, node)
    edges.update((e.source, e.target) for e in graph.edges)


def write_art_report(uri: str, output: str | Path | None = None, *, down: bool = False,
                     depth: int | None = None, verify: bool = True) -> Path:
    """Write the report of an artifact version's lineage; returns the file written."""
    from kit_artifacts import get_registry, lineage

    registry = get_registry()
    direction: Literal["up", "down"] = "down" if down else "up"
    graph = lineage(uri, direction=direction, depth=depth, registry=registry)
    nodes: dict[str, Any] = {}
    edges: set[tuple[str, str]] = set()
    _merge(nodes, edges, graph)
    title = f"{'Consumers' if down else 'Lineage'} of {graph.root}"
    path = Path(output) if output is not None else default_report_path(graph.root)
    return _write(title, nodes, edges, path, registry, verify)


def write_run_report(run_id: str, output: str | Path | None = None, *,
                     verify: bool = True) -> Path:
    """Write the report of a run: what it consumed (and their lineage) and what it made."""
    from kit_artifacts import ArtifactError, LineageNode, get_registry, lineage
    from kit_track import load_run

    record = load_run(run_id)  # RunNotFoundError lists the recorded run ids
    registry = get_registry()
    run_node = f"run:{run_id}"
    nodes: dict[str, Any] = {}
    edges: set[tuple[str, str]] = set()
    for use in (*record.outputs, *record.inputs):
        if use.uri.startswith("art://"):
            try:
                _merge(nodes, edges, lineage(use.uri, "up", registry=registry))
            except ArtifactError:  # deleted since: drawn below as "not in registry"
                pass
    edges.update((run_node, use.uri) for use in record.outputs)
    for use in record.inputs:
        if not use.uri.startswith("art://"):
            nodes.setdefault(use.uri, LineageNode(use.uri, "external", use.uri))
        edges.add((use.uri, run_node))
    nodes.setdefault(run_node, LineageNode(run_node, "run", f"run {run_id}", {
        "run_id": run_id, "argv": list(record.argv), "git_commit": record.git_commit,
        "git_dirty": record.git_dirty, "config_digest": record.config_digest}))
    for use in (*record.outputs, *record.inputs):
        if use.uri not in nodes:  # recorded but no longer in the registry
            nodes[use.uri] = LineageNode(use.uri, "artifact", f"{use.uri} (not in registry)")
    path = Path(output) if output is not None else default_report_path(f"run-{run_id}")
    return _write(f"Run {run_id} ({record.stage})", nodes, edges, path, registry, verify)
