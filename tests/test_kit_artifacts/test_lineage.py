"""Lineage from the registry alone: up and down, depth, and the three export formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit_artifacts import ArtifactRegistry, ArtifactURIError, ModelArtifact, hooks, lineage


@pytest.fixture()
def chain(registry: ArtifactRegistry) -> ArtifactRegistry:
    """raw -> data (run prep) -> model (run train) -> sft (run sft), plus an external input."""
    prod = lambda run: hooks.Producer(run, ("x",), "c0ffee", False, None)  # noqa: E731
    raw = registry.publish(ModelArtifact(path="/raw", step=0), "raw", inputs=())
    data = registry.publish(
        ModelArtifact(path="/data", step=0),
        "data",
        inputs=[raw.uri, "hf://org/ds"],
        producer=prod("prep"),
    )
    model = registry.publish(
        ModelArtifact(path="/model", step=1), "model", inputs=[data.uri], producer=prod("train")
    )
    registry.publish(
        ModelArtifact(path="/sft", step=2), "sft", inputs=[model.uri], producer=prod("sft")
    )
    return registry


def test_upstream_full(chain: ArtifactRegistry) -> None:
    """Upstream of sft reaches every ancestor, runs between them, and the external input."""
    graph = lineage("art://sft", "up", registry=chain)
    ids = set(graph.nodes)
    assert {"art://sft:v1", "art://model:v1", "art://data:v1", "art://raw:v1", "hf://org/ds"} <= ids
    assert {"run:sft", "run:train", "run:prep"} <= ids
    edges = {(e.source, e.target) for e in graph.edges}
    assert ("art://data:v1", "run:train") in edges and ("run:train", "art://model:v1") in edges
    assert ("hf://org/ds", "run:prep") in edges
    assert graph.nodes["hf://org/ds"].kind == "external"


def test_depth_limits(chain: ArtifactRegistry) -> None:
    """depth=1 stops after the direct inputs."""
    graph = lineage("art://sft:v1", "up", depth=1, registry=chain)
    assert "art://model:v1" in graph.nodes and "art://data:v1" not in graph.nodes


def test_downstream(chain: ArtifactRegistry) -> None:
    """Downstream of raw finds every descendant through the reverse markers."""
    graph = lineage("art://raw:v1", "down", registry=chain)
    assert {"art://data:v1", "art://model:v1", "art://sft:v1"} <= set(graph.nodes)
    assert ("art://raw:v1", "run:prep") in {(e.source, e.target) for e in graph.edges}


def test_exports(chain: ArtifactRegistry) -> None:
    """JSON parses with nodes/edges, Mermaid is a flowchart, DOT is a digraph with all edges."""
    graph = lineage("art://model", "up", registry=chain)
    data = json.loads(graph.to_json())
    assert data["root"] == "art://model:v1" and len(data["edges"]) == len(graph.edges)
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == len(graph.edges)
    dot = graph.to_dot()
    assert dot.startswith("digraph lineage {") and dot.count("->") == len(graph.edges)
    assert '"art://data:v1" -> "run:train";' in dot


def test_bad_direction(chain: ArtifactRegistry) -> None:
    """An unknown direction is an ArtifactURIError."""
    with pytest.raises(ArtifactURIError, match="direction"):
        lineage("art://model", "sideways", registry=chain)  # type: ignore[arg-type]


def test_lineage_survives_restart(chain: ArtifactRegistry, tmp_path: Path) -> None:
    """A fresh registry object on the same root answers the same graph (offline, no state)."""
    again = ArtifactRegistry(chain.root)
    assert (
        lineage("art://sft", registry=again).to_json()
        == lineage("art://sft", registry=chain).to_json()
    )
