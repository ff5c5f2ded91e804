"""End to end with kit-artifacts: a run's inputs and outputs become registry lineage."""
from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

import kit_artifacts
import kit_track


def _publish_data(tmp_path: Path) -> kit_artifacts.ArtifactRef:
    data = tmp_path / "data"
    data.mkdir()
    (data / "shard_0.bin").write_bytes(b"\x00" * 16)
    return kit_artifacts.Artifact(path=str(data)).save("data")


def test_resolved_input_and_saved_model_form_lineage(tmp_path: Path) -> None:
    """`${art:data}` in the config plus `model.save()` give data -> run -> model in lineage()."""
    data_ref = _publish_data(tmp_path)
    cfg = OmegaConf.create({"data_path": "${art:data,path}", "lr": 0.1})
    model_dir = tmp_path / "ckpt"
    model_dir.mkdir()
    (model_dir / "weights.pt").write_bytes(b"w")
    with kit_track.start_run(stage="pretrain", config=cfg) as run:
        assert run.info.config["data_path"] == data_ref.path
        model_ref = kit_artifacts.ModelArtifact(path=str(model_dir), step=10).save("model")
    graph = kit_artifacts.lineage(model_ref.uri)
    edges = {(e.source, e.target) for e in graph.edges}
    run_node = f"run:{run.run_id}"
    assert (data_ref.uri, run_node) in edges
    assert (run_node, model_ref.uri) in edges
    record = kit_track.load_run(run.run_id)
    assert [u.uri for u in record.inputs] == [data_ref.uri]
    assert [u.uri for u in record.outputs] == [model_ref.uri]
    assert record.status == "succeeded"
    version = kit_artifacts.get_registry().record(model_ref)
    assert version.producer is not None and version.producer.run_id == run.run_id
    assert version.producer.config_digest == run.info.config_digest


def test_from_uri_inside_run_is_an_input(tmp_path: Path) -> None:
    """Loading an artifact by URI inside a run records it as the run's input, once."""
    data_ref = _publish_data(tmp_path)
    fake = kit_track.FakeTracker()
    with kit_track.start_run(stage="sft", trackers=[kit_track.FileTracker(), fake]) as run:
        kit_artifacts.Artifact.from_uri(data_ref.uri)
        kit_artifacts.Artifact.from_uri(data_ref.uri)
        out = tmp_path / "out"
        out.mkdir()
        (out / "x").write_text("x")
        out_ref = kit_artifacts.Artifact(path=str(out)).save("sft-data")
    fake.assert_lineage(inputs=(data_ref.uri,), outputs=(out_ref.uri,))
    lines = (Path(run.run_dir or "") / "inputs.jsonl").read_text().splitlines()
    assert [json.loads(x)["uri"] for x in lines] == [data_ref.uri]


def test_no_active_run_means_local_producer(tmp_path: Path) -> None:
    """Outside a run, kit-artifacts records the implicit run as producer (ours is removed)."""
    with kit_track.start_run(stage="x", trackers=[kit_track.NoOpTracker()]):
        pass
    ref = _publish_data(tmp_path)
    record = kit_artifacts.get_registry().record(ref)
    assert record.producer is not None and record.producer.run_id.startswith("implicit-")
