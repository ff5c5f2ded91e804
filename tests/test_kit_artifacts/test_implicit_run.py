"""Implicit runs: what a process loads outside an explicit run is recorded once, per run.

A version published outside a run points at its implicit run (`run_inputs`) instead of
copying the input list; lineage, `record().inputs`, downstream consumers and gc follow it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kit_artifacts
from kit_artifacts import ModelArtifact, hooks, lineage


def _load(reg: kit_artifacts.ArtifactRegistry, uri: str) -> None:
    reg.note_used(reg.resolve(uri))  # what Artifact.from_uri and ${art:...} do


@pytest.fixture()
def data(registry: kit_artifacts.ArtifactRegistry, tmp_path: Path) -> list[str]:
    """Three published data versions (their publishes used nothing)."""
    out = []
    for i in range(3):
        folder = tmp_path / f"d{i}"
        folder.mkdir()
        (folder / "x").write_text(str(i))
        out.append(registry.publish(kit_artifacts.Artifact(path=str(folder)), "data").uri)
    return out


def _raw(registry: kit_artifacts.ArtifactRegistry, name: str, version: int) -> Any:
    return json.loads(Path(registry.root, name, f"v{version}", "version.json").read_text())


def test_one_run_inputs_once_versions_point_at_it(registry, data):
    """Both versions name one implicit run; its inputs are stored once, not per version."""
    for uri in data[:2]:
        _load(registry, uri)
    first = registry.publish(ModelArtifact(path="/m1", step=1), "model", hash_mode="none")
    _load(registry, data[2])
    _load(registry, data[0])  # used again: not a new input
    second = registry.publish(ModelArtifact(path="/m2", step=2), "model", hash_mode="none")

    raw1, raw2 = _raw(registry, "model", 1), _raw(registry, "model", 2)
    assert raw1["format"] == "kit-artifacts/version-record/2"
    run_id = raw1["run_inputs"]["run_id"]
    assert run_id.startswith("implicit-") and raw2["run_inputs"]["run_id"] == run_id
    assert raw1["producer"]["run_id"] == run_id
    assert raw1["inputs"] == raw2["inputs"] == []
    assert (raw1["run_inputs"]["count"], raw2["run_inputs"]["count"]) == (2, 3)
    chunks = sorted(Path(registry.root, "_runs", run_id, "inputs").iterdir())
    stored = [u for c in chunks for u in json.loads(c.read_text())]
    assert stored == [data[0], data[1], data[2]]  # each input once, in first-use order
    assert registry.record(first).inputs == (data[0], data[1])
    assert registry.record(second).inputs == (data[0], data[1], data[2])
    assert "_runs" not in registry.names()


def test_lineage_follows_the_pointer_both_ways(registry, data):
    """Upstream shows the inputs behind the run; downstream finds the versions that saw one."""
    _load(registry, data[0])
    model = registry.publish(ModelArtifact(path="/m1", step=1), "model", hash_mode="none")
    _load(registry, data[1])
    later = registry.publish(ModelArtifact(path="/m2", step=2), "model", hash_mode="none")

    up = lineage(later.uri, registry=registry)
    run = f"run:{registry.record(later).producer.run_id}"
    assert {(e.source, e.target) for e in up.edges} >= {
        (data[0], run), (data[1], run), (run, later.uri)}
    down = lineage(data[1], "down", registry=registry)
    assert later.uri in down.nodes and model.uri not in down.nodes  # v1 never saw data v2
    assert registry.consumers(registry.resolve(data[0])) == [model, later]


def test_gc_keeps_inputs_of_an_implicit_runs_version(registry, data):
    """An input known only through the run pointer still counts as referenced."""
    _load(registry, data[0])
    registry.publish(ModelArtifact(path="/m", step=1), "model", hash_mode="none")
    report = kit_artifacts.gc(dry_run=True, registry=registry)
    assert data[0] in report.kept and data[0] not in report.removed


def test_explicit_inputs_and_explicit_runs_still_copy_the_list(registry, data):
    """`inputs=` and a producer provider (kit-track's run) keep the flat list: no pointer."""
    _load(registry, data[0])
    ref = registry.publish(ModelArtifact(path="/m", step=1), "given", inputs=[data[1]],
                           hash_mode="none")
    assert _raw(registry, "given", 1)["run_inputs"] is None
    assert registry.record(ref).inputs == (data[1],)
    hooks.set_producer_provider(lambda: hooks.Producer("run-1", (), None, None, None))
    _load(registry, data[2])
    ref = registry.publish(ModelArtifact(path="/m", step=1), "in-run", hash_mode="none")
    assert _raw(registry, "in-run", 1)["inputs"] == [data[2]]
    assert registry.record(ref).producer.run_id == "run-1"


def test_a_second_registry_object_continues_the_runs_log(registry, data):
    """A fresh registry object for the same root appends after what is stored, no repeats."""
    _load(registry, data[0])
    registry.publish(ModelArtifact(path="/m", step=1), "model", hash_mode="none")
    _load(registry, data[1])
    other = kit_artifacts.ArtifactRegistry(registry.root)
    ref = other.publish(ModelArtifact(path="/m", step=2), "model", hash_mode="none")
    assert other.record(ref).inputs == (data[0], data[1])


def test_format_1_records_still_read(registry, data):
    """A record without `run_inputs`/`code_digest` (format 1) reads as before."""
    path = Path(registry.root, "data", "v1", "version.json")
    raw = json.loads(path.read_text())
    raw["format"] = "kit-artifacts/version-record/1"
    raw.pop("run_inputs")
    raw["producer"].pop("code_digest")
    raw["inputs"] = ["hf://x"]
    path.write_text(json.dumps(raw))
    record = registry.record(data[0])
    assert record.inputs == ("hf://x",) and record.producer.code_digest is None
