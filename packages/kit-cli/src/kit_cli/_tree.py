"""Render a `kit_artifacts.LineageGraph` as an indented text tree.

The tree starts at the graph's root version. Upstream (`direction="up"`) a node's children
are what fed it (version <- run <- input versions); downstream they are what it fed. A node
reached twice (a diamond) is printed again with `(see above)` instead of its subtree.
"""
from __future__ import annotations

from typing import Any

__all__ = ["lineage_tree", "node_text"]


def node_text(node: Any) -> str:
    """One line for a node: the artifact's label and data path, or the run and its commit."""
    info = node.attrs or {}
    if node.kind == "artifact":
        where = info.get("path")
        return f"{node.label}  {where}" if where else str(node.label)
    if node.kind == "run":
        commit = info.get("git_commit")
        dirty = " dirty" if info.get("git_dirty") else ""
        return f"{node.label}" + (f"  @{str(commit)[:12]}{dirty}" if commit else "")
    return f"{node.label} (external)"


def lineage_tree(graph: Any) -> list[str]:
    """The lines of the tree of `graph` (a `LineageGraph`), root first."""
    children: dict[str, list[str]] = {}
    for edge in graph.edges:
        parent, child = (
            (edge.target, edge.source) if graph.direction == "up" else (edge.source, edge.target)
        )
        children.setdefault(parent, []).append(child)
    for kids in children.values():
        kids.sort()
    lines: list[str] = []
    printed: set[str] = set()

    def label(node_id: str) -> str:
        node = graph.nodes.get(node_id)
        return node_text(node) if node is not None else node_id

    def walk(node_id: str, prefix: str) -> None:
        kids = children.get(node_id, [])
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            seen = kid in printed and kid in children
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label(kid)}"
                         + ("  (see above)" if seen else ""))
            if not seen:
                printed.add(kid)
                walk(kid, prefix + ("    " if last else "│   "))

    lines.append(label(graph.root))
    printed.add(graph.root)
    walk(graph.root, "")
    return lines
