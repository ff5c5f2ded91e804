"""The lineage graph as an inline SVG, laid out in layers by networkx.

Layers are networkx's topological generations counted from the sinks, so data flows top to
bottom and a long pipeline stays readable in a page's width; the order inside a layer comes
from a barycenter sweep (each node placed near the nodes that feed it, the usual
crossing-reduction step of a layered layout); networkx's multipartite layout places them.
Artifacts are boxes, runs are ellipses, external inputs are slanted boxes; each node links to
its details section (`#node-N`).
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape
from itertools import pairwise
from typing import Any

__all__ = ["layout", "render_svg"]

_ROW = 80.0  # pixels between layers
_COL = 330.0  # pixels between nodes of one layer
_W, _H = 300.0, 44.0
_PAD = 20.0


def layout(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Pixel centre of each node: layer by topological generation, barycenter order."""
    import networkx as nx

    graph: Any = nx.DiGraph()
    graph.add_nodes_from(sorted(ids))
    graph.add_edges_from(edges)
    try:
        # Generations counted from the sinks, read backwards: each node sits just above its
        # first consumer, so a data-prep run is drawn next to the stage it feeds.
        layers = [sorted(layer) for layer in nx.topological_generations(graph.reverse())][::-1]
    except nx.NetworkXUnfeasible:  # a cycle cannot come from the registry; draw one column
        layers = [sorted(ids)]
    order: dict[str, float] = {}
    for layer in layers:
        def barycenter(node: str) -> float:
            feeds = [order[p] for p in graph.predecessors(node) if p in order]
            return sum(feeds) / len(feeds) if feeds else float("inf")

        layer.sort(key=lambda n: (barycenter(n), n))
        order.update({n: float(i) for i, n in enumerate(layer)})
    placed: Any = nx.DiGraph()
    for index, layer in enumerate(layers):
        placed.add_nodes_from(layer, layer=index)  # insertion order = order inside the layer
    pos = nx.multipartite_layout(placed, subset_key="layer", align="horizontal")
    # networkx centres each layer and scales both axes by one factor; it does not promise to
    # keep insertion order inside a layer, so hand its slots (left first) out in our order.
    xs: dict[str, float] = {}
    for layer in layers:
        xs.update(zip(layer, sorted(float(pos[n][0]) for n in layer), strict=True))
    gaps = [abs(xs[a] - xs[b]) for layer in layers for a, b in pairwise(layer)]
    unit = min((g for g in gaps if g > 1e-12), default=1.0)
    left = min(xs.values())
    return {
        n: (_PAD + _W / 2 + (xs[n] - left) / unit * _COL,
            _PAD + _H / 2 + placed.nodes[n]["layer"] * _ROW)
        for n in pos
    }


def _shape(kind: str, x: float, y: float) -> str:
    left, top = x - _W / 2, y - _H / 2
    if kind == "run":
        return f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{_W / 2:.1f}" ry="{_H / 2:.1f}"/>'
    if kind == "external":
        skew = 12.0
        points = [(left + skew, top), (left + _W, top), (left + _W - skew, top + _H),
                  (left, top + _H)]
        return '<polygon points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in points) + '"/>'
    return (f'<rect x="{left:.1f}" y="{top:.1f}" width="{_W:.1f}" height="{_H:.1f}" '
            'rx="4"/>')


def _short(text: str, limit: int = 44) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(nodes: Sequence[Any], edges: Sequence[tuple[str, str]],
               anchors: dict[str, str]) -> str:
    """SVG markup: `g.node[data-id]` per node, `path.edge[data-source][data-target]` per edge."""
    pos = layout([n.id for n in nodes], edges)
    width = max((x for x, _ in pos.values()), default=0.0) + _W / 2 + _PAD
    height = max((y for _, y in pos.values()), default=0.0) + _H / 2 + _PAD
    out = [f'<svg id="lineage" class="lineage" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" role="img">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker>'
           '</defs>']
    for source, target in edges:
        (x1, y1), (x2, y2) = pos[source], pos[target]
        y1, y2 = y1 + _H / 2, y2 - _H / 2
        bend = max((y2 - y1) / 2, 20.0)
        out.append(f'<path class="edge" data-source="{escape(source)}" '
                   f'data-target="{escape(target)}" marker-end="url(#arrow)" '
                   f'd="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} '
                   f'{x2:.1f},{y2:.1f}"/>')
    for node in nodes:
        x, y = pos[node.id]
        problem = " has-problem" if node.problems else ""
        out.append(f'<a href="#{anchors[node.id]}"><g class="node node-{node.kind}{problem}" '
                   f'data-id="{escape(node.id)}" data-kind="{node.kind}">'
                   f"<title>{escape(node.label)}</title>{_shape(node.kind, x, y)}"
                   f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">'
                   f"{escape(_short(node.label))}</text></g></a>")
    out.append("</svg>")
    return "\n".join(out)
