"""Typed artifacts and `metadata.json`: our format, the earlier kit's, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit_artifacts import (
    Artifact,
    ArtifactMetadataError,
    ArtifactNotFoundError,
    ArtifactTypeError,
    InputDatasetInfo,
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
    artifact_type,
    artifact_types,
)

EARLIER_KIT_BLENDS: dict[str, Any] = {
    "path": "/data/run/out",
    "type": "PretrainBlendsArtifact",
    "metadata": {"total_tokens": 100, "total_sequences": 7, "extra_note": "kept"},
    "created_at": "2025-01-01T00:00:00+00:00",
    "producer": "local",
    "tracking": {
        "artifact_id": "team/proj/data:v1",
        "artifact_type": "PretrainBlendsArtifact",
        "run_id": "abc",
        "url": None,
        "used_artifacts": [],
    },
    "name": None,
    "total_tokens": 100,
    "total_sequences": 7,
    "elapsed_sec": 1.5,
    "source_datasets": ["hf://nvidia/x"],
    "tokenizer_uri": None,
}


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    """write_metadata + load gives back an equal artifact with the typed fields."""
    art = PretrainBlendsArtifact(
        path=tmp_path,
        total_tokens=10,
        total_sequences=2,
        source_datasets=[InputDatasetInfo(uri="hf://a", weight=0.5), "s3://b/c"],
    )
    art.write_metadata()
    loaded = PretrainBlendsArtifact.load(tmp_path)
    assert loaded == art
    assert loaded.source_datasets[0] == InputDatasetInfo(uri="hf://a", weight=0.5)


def test_key_order_is_stable(tmp_path: Path) -> None:
    """metadata.json keys come in the documented order, typed fields mirrored in metadata."""
    art = ModelArtifact(path=tmp_path, step=5, final_loss=1.25, metadata={"lr": 0.1})
    art.write_metadata()
    data = json.loads((tmp_path / "metadata.json").read_text())
    assert list(data) == [
        "path",
        "type",
        "name",
        "created_at",
        "producer",
        "step",
        "final_loss",
        "metadata",
        "tracking",
    ]
    assert data["metadata"] == {"lr": 0.1, "step": 5, "final_loss": 1.25}
    assert data["type"] == "ModelArtifact"


def test_reads_earlier_kit_file(tmp_path: Path) -> None:
    """A metadata.json as the earlier kit wrote it loads, free metadata and tracking kept."""
    (tmp_path / "metadata.json").write_text(json.dumps(EARLIER_KIT_BLENDS))
    art = Artifact.load(tmp_path)
    assert isinstance(art, PretrainBlendsArtifact)
    assert art.total_tokens == 100 and art.elapsed_sec == 1.5
    assert art.metadata["extra_note"] == "kept"
    assert art.tracking is not None and art.tracking["run_id"] == "abc"


def test_reads_typed_fields_from_metadata_only(tmp_path: Path) -> None:
    """Older files carrying typed fields only inside `metadata` still load."""
    data = {
        "path": str(tmp_path),
        "type": "ModelArtifact",
        "metadata": {"step": 9, "final_loss": 2.0},
    }
    (tmp_path / "metadata.json").write_text(json.dumps(data))
    art = ModelArtifact.load(tmp_path)
    assert (art.step, art.final_loss) == (9, 2.0)


def test_file_path_artifact_writes_next_to_file(tmp_path: Path) -> None:
    """A SplitJsonl artifact (path = manifest.json) writes metadata.json in its directory."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    art = SplitJsonlDataArtifact(path=manifest, total_sequences=3, train=str(tmp_path / "t.jsonl"))
    assert art.write_metadata() == str(tmp_path / "metadata.json")
    assert SplitJsonlDataArtifact.load(manifest) == art


def test_sft_legacy_fields_round_trip(tmp_path: Path) -> None:
    """SFTDataArtifact keeps its legacy path fields, including `metadata_path`."""
    art = SFTDataArtifact(
        path=tmp_path, total_tokens=1, total_sequences=1, pack_size=4096, metadata_path="/x/m.json"
    )
    art.write_metadata()
    assert SFTDataArtifact.load(tmp_path).metadata_path == "/x/m.json"


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        pytest.param({"final_los": 2.5}, r"final_los: unknown.*did you mean 'final_loss'",
                     id="typo-of-field"),
        pytest.param({"los": 2.5}, r"los: unknown.*did you mean 'loss'", id="typo-of-alias"),
        pytest.param({"loss": 2.5, "final_loss": 1.0}, r"loss: is another name for final_loss",
                     id="alias-and-field-disagree"),
    ],
)
def test_constructor_typos_and_conflicts_are_errors(kwargs: dict[str, Any], pattern: str) -> None:
    """Unknown fields (typos) still fail with a suggestion; `loss` and `final_loss` can't clash."""
    with pytest.raises(ArtifactMetadataError, match=pattern):
        ModelArtifact(path="/x", step=1, **kwargs)


def test_loss_is_the_seeds_name_for_final_loss(tmp_path: Path) -> None:
    """`ModelArtifact(loss=2.5)` (the seed's spelling) is stored once, as `final_loss`."""
    art = ModelArtifact(path=tmp_path, step=3, loss=2.5)  # type: ignore[call-arg]
    assert (art.loss, art.final_loss) == (2.5, 2.5)
    art.write_metadata()
    data = json.loads((tmp_path / "metadata.json").read_text())
    assert data["final_loss"] == 2.5 and "loss" not in data and "loss" not in data["metadata"]
    loaded = ModelArtifact.load(tmp_path)
    assert (loaded.loss, loaded.final_loss) == (2.5, 2.5)
    assert ModelArtifact(path=tmp_path, step=3, loss=2.5, final_loss=2.5).final_loss == 2.5  # type: ignore[call-arg]


def _write(tmp_path: Path, data: Any) -> Path:
    (tmp_path / "metadata.json").write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": 1, "loss": 2.0},
            ["loss", "final_loss"],
            id="unknown-field",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact"},
            ["step: missing required field"],
            id="missing-field",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": "12"},
            ["step: expected int"],
            id="string-for-int",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": True},
            ["step: expected int"],
            id="bool-for-int",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": -1},
            ["step: must be >= 0"],
            id="negative-step",
        ),
        pytest.param(
            {"type": "ModelArtifact", "step": 1},
            ["path: missing required field"],
            id="missing-path",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": "a", "final_loss": "b", "lss": 1},
            ["step:", "final_loss:", "lss"],
            id="collects-every-problem",
        ),
        pytest.param(
            {
                "path": "/x",
                "type": "PretrainBlendsArtifact",
                "total_tokens": 1,
                "total_sequences": 1,
                "source_datasets": [{"uri": "hf://a", "wieght": 2}],
            },
            ["source_datasets[0].wieght", "weight"],
            id="nested-unknown-field",
        ),
        pytest.param(
            {
                "path": "/x",
                "type": "PretrainBlendsArtifact",
                "total_tokens": 1,
                "total_sequences": 1,
                "source_datasets": [3],
            },
            ["source_datasets[0]"],
            id="nested-wrong-type",
        ),
        pytest.param(
            {"path": "/x", "type": "ModelArtifact", "step": 1, "metadata": []},
            ["metadata: expected a mapping"],
            id="metadata-not-object",
        ),
        pytest.param([1, 2], ["must be a JSON object"], id="not-an-object"),
    ],
)
def test_bad_metadata(tmp_path: Path, data: Any, fragments: list[str]) -> None:
    """Every bad metadata.json raises ArtifactMetadataError naming the file and each problem."""
    _write(tmp_path, data)
    with pytest.raises(ArtifactMetadataError) as info:
        Artifact.load(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "metadata.json") in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"path": "/x", "type": "Model', id="truncated"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b"", id="empty"),
    ],
)
def test_corrupt_metadata_names_file(tmp_path: Path, content: bytes) -> None:
    """A corrupt or truncated metadata.json is an ArtifactMetadataError with the path."""
    (tmp_path / "metadata.json").write_bytes(content)
    with pytest.raises(ArtifactMetadataError) as info:
        Artifact.load(tmp_path)
    assert info.value.path == str(tmp_path / "metadata.json")


def test_missing_metadata_is_not_found(tmp_path: Path) -> None:
    """Loading a directory without metadata.json raises ArtifactNotFoundError with the path."""
    with pytest.raises(ArtifactNotFoundError, match="no artifact metadata"):
        ModelArtifact.load(tmp_path)


def test_unknown_type(tmp_path: Path) -> None:
    """An unknown `type` names it, suggests a close one, and points at registration."""
    _write(tmp_path, {"path": "/x", "type": "ModelArtefact", "step": 1})
    with pytest.raises(
        ArtifactTypeError, match=r"ModelArtefact.*did you mean 'ModelArtifact'.*kit_artifacts.types"
    ):
        Artifact.load(tmp_path)


def test_wrong_type_on_load(tmp_path: Path) -> None:
    """Loading a ModelArtifact file as PretrainBlendsArtifact is an ArtifactTypeError."""
    ModelArtifact(path=tmp_path, step=1).write_metadata()
    with pytest.raises(ArtifactTypeError) as info:
        PretrainBlendsArtifact.load(tmp_path)
    assert info.value.expected == "PretrainBlendsArtifact"
    assert info.value.type_name == "ModelArtifact"


def test_user_subclass_registers_itself(tmp_path: Path) -> None:
    """A user-defined subclass is found by its type name and round-trips."""

    @attrs.define(kw_only=True, slots=False)
    class EvalReportArtifact(Artifact):
        accuracy: float
        suite: str = "default"

    assert artifact_type("EvalReportArtifact") is EvalReportArtifact
    assert "EvalReportArtifact" in artifact_types()
    EvalReportArtifact(path=tmp_path, accuracy=0.9).write_metadata()
    loaded = Artifact.load(tmp_path)
    assert isinstance(loaded, EvalReportArtifact) and loaded.accuracy == 0.9


_opt_int = st.one_of(st.none(), st.integers(0, 2**40))
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_infos = st.builds(
    InputDatasetInfo,
    uri=_text,
    name=st.one_of(st.none(), _text),
    weight=st.floats(0, 10, allow_nan=False),
    num_rows=_opt_int,
)


@settings(max_examples=60, deadline=None)
@given(
    total_tokens=st.integers(0, 2**50),
    total_sequences=st.integers(0, 2**40),
    elapsed=st.floats(0, 1e6, allow_nan=False),
    num_shards=_opt_int,
    sources=st.lists(st.one_of(_infos, _text), max_size=4),
    tokenizer=st.one_of(st.none(), _text),
    extra=st.dictionaries(
        st.from_regex(r"x_[a-z]{1,5}", fullmatch=True), st.integers(), max_size=3
    ),
)
def test_dict_round_trip(
    total_tokens: int,
    total_sequences: int,
    elapsed: float,
    num_shards: int | None,
    sources: list[Any],
    tokenizer: str | None,
    extra: dict[str, int],
) -> None:
    """to_dict -> JSON -> from_dict gives back an equal artifact."""
    art = PretrainBlendsArtifact(
        path="/data/x",
        total_tokens=total_tokens,
        total_sequences=total_sequences,
        elapsed_sec=elapsed,
        num_shards=num_shards,
        source_datasets=sources,
        tokenizer_uri=tokenizer,
        metadata=dict(extra),
    )
    again = Artifact.from_dict(json.loads(json.dumps(art.to_dict())))
    assert again == PretrainBlendsArtifact.from_dict(again.to_dict())
    assert again.to_dict() == art.to_dict()


def test_entry_point_types_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A type published under the kit_artifacts.types entry-point group loads by name."""
    import importlib.metadata

    from kit_artifacts import _artifacts

    @attrs.define(kw_only=True, slots=False)
    class PluginArtifact(Artifact):
        score: float = 0.0

    _artifacts._TYPES.pop("PluginArtifact")  # as if defined in a module nobody imported yet
    entry = importlib.metadata.EntryPoint("PluginArtifact", "x:y", _artifacts.ENTRY_POINT_GROUP)
    monkeypatch.setattr(entry.__class__, "load", lambda self: PluginArtifact)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [entry])
    monkeypatch.setattr(_artifacts, "_ENTRY_POINTS_LOADED", False)
    _write(tmp_path, {"path": "/x", "type": "PluginArtifact", "score": 1.5})
    loaded = Artifact.load(tmp_path)
    assert isinstance(loaded, PluginArtifact) and loaded.score == 1.5
