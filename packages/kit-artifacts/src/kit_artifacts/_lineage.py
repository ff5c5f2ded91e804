"""Lineage graphs answered from the registry alone (offline): JSON, Mermaid, Graphviz DOT.

Nodes are artifact versions (`art://name:vN`), producer runs (`run:<id>`) and external inputs
(any non-registry URI). Edges go input -> run -> output. Upstream follows each version's
recorded inputs; downstream follows the reverse markers written at publish.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import attrs

from kit_artifacts._records import VersionRecord
from kit_artifacts._ref import ArtifactRef
from kit_artifacts._registry import ArtifactRegistry, get_registry
from kit_artifacts._uri import ArtURI, parse_art_uri
from kit_artifacts.errors import ArtifactURIError

__all__ = [
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "lineage",
]


@attrs.frozen
class LineageNode:
    """An artifact version, a run, or an external input."""

    id: str
    kind: Literal["artifact", "run", "external"]
    label: str
    attrs: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


@attrs.frozen
class LineageEdge:
    """A directed edge: input -> run, or run -> output."""

    source: str
    target: str


@attrs.define
class LineageGraph:
    """Nodes and edges reachable from `root` in one direction."""

    root: str
    direction: str
    nodes: dict[str, LineageNode] = attrs.field(factory=dict)
    edges: list[LineageEdge] = attrs.field(factory=list)

    def _add_node(self, node: LineageNode) -> None:
        self.nodes.setdefault(node.id, node)

    def _add_edge(self, source: str, target: str) -> None:
        edge = LineageEdge(source, target)
        if edge not in self.edges:
            self.edges.append(edge)

    def to_json(self) -> str:
        """Stable JSON: nodes sorted by id, edges sorted."""
        return json.dumps(
            {
                "root": self.root,
                "direction": self.direction,
                "nodes": [
                    {"id": n.id, "kind": n.kind, "label": n.label, "attrs": n.attrs}
                    for n in sorted(self.nodes.values(), key=lambda n: n.id)
                ],
                "edges": [
                    {"source": e.source, "target": e.target}
                    for e in sorted(self.edges, key=lambda e: (e.source, e.target))
                ],
            },
            indent=2,
        )

    def _ids(self) -> dict[str, str]:
        return {nid: f"n{i}" for i, nid in enumerate(sorted(self.nodes))}

    def to_mermaid(self) -> str:
        """A Mermaid `flowchart LR` (artifacts as boxes, runs as rounded, externals as notes)."""
        ids = self._ids()
        lines = ["flowchart LR"]
        shapes = {"artifact": ('["', '"]'), "run": ('("', '")'), "external": ('[/"', '"/]')}
        for nid in sorted(self.nodes):
            node = self.nodes[nid]
            left, right = shapes[node.kind]
            lines.append(f"    {ids[nid]}{left}{_mermaid_text(node.label)}{right}")
        for e in sorted(self.edges, key=lambda e: (e.source, e.target)):
            lines.append(f"    {ids[e.source]} --> {ids[e.target]}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """Graphviz DOT source."""
        shapes = {"artifact": "box", "run": "ellipse", "external": "note"}
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for nid in sorted(self.nodes):
            node = self.nodes[nid]
            lines.append(
                f"  {_dot_quote(nid)} [label={_dot_quote(node.label)}, shape={shapes[node.kind]}];"
            )
        for e in sorted(self.edges, key=lambda e: (e.source, e.target)):
            lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_id(record: VersionRecord) -> str:
    run = record.producer.run_id
    # "local" is not unique: each local publish is its own producing run.
    return f"run:local:{record.name}:v{record.version}" if run == "local" else f"run:{run}"


def _artifact_node(record: VersionRecord) -> LineageNode:
    return LineageNode(
        record.uri,
        "artifact",
        f"{record.name}:v{record.version} ({record.type})",
        {"type": record.type, "path": record.path, "created_at": record.created_at},
    )


def _run_node(record: VersionRecord) -> LineageNode:
    p = record.producer
    return LineageNode(_run_id(record), "run", f"run {p.run_id}", attrs.asdict(p))


def lineage(
    uri: str | ArtifactRef,
    direction: Literal["up", "down"] = "up",
    depth: int | None = None,
    registry: ArtifactRegistry | None = None,
) -> LineageGraph:
    """Upstream (inputs, recursively) or downstream (consumers) graph of a version."""
    if direction not in ("up", "down"):
        raise ArtifactURIError(
            f"lineage direction must be 'up' or 'down', got {direction!r}", uri=str(uri)
        )
    reg = registry if registry is not None else get_registry()
    start = reg.record(uri if isinstance(uri, ArtifactRef) else reg.resolve(uri))
    graph = LineageGraph(root=start.uri, direction=direction)
    graph._add_node(_artifact_node(start))
    frontier = [start]
    seen = {start.uri}
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt: list[VersionRecord] = []
        for record in frontier:
            if direction == "up":
                run = _run_node(record)
                graph._add_node(run)
                graph._add_edge(run.id, record.uri)
                for item in record.inputs:
                    parsed = parse_art_uri(item) if item.startswith("art://") else None
                    if isinstance(parsed, ArtURI) and parsed.pinned_version is not None:
                        upstream = reg._read_full(parsed.name, parsed.pinned_version)
                        if upstream is None:
                            graph._add_node(LineageNode(item, "artifact", f"{item} (deleted)"))
                            graph._add_edge(item, run.id)
                            continue
                        graph._add_node(_artifact_node(upstream))
                        graph._add_edge(upstream.uri, run.id)
                        if upstream.uri not in seen:
                            seen.add(upstream.uri)
                            nxt.append(upstream)
                    else:
                        graph._add_node(LineageNode(item, "external", item))
                        graph._add_edge(item, run.id)
            else:
                for consumer_ref in reg.consumers(record.ref):
                    consumer = reg.record(consumer_ref)
                    run = _run_node(consumer)
                    graph._add_node(run)
                    graph._add_node(_artifact_node(consumer))
                    graph._add_edge(record.uri, run.id)
                    graph._add_edge(run.id, consumer.uri)
                    if consumer.uri not in seen:
                        seen.add(consumer.uri)
                        nxt.append(consumer)
        frontier = nxt
    return graph
