"""The registry: publish, resolve, aliases, records, copy-in, gc, and its error cases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import kit_artifacts
from kit_artifacts import (
    ArtifactMetadataError,
    ArtifactNotFoundError,
    ArtifactRegistry,
    ArtifactTypeError,
    ArtifactURIError,
    MemoryStorage,
    ModelArtifact,
    PretrainBlendsArtifact,
    hooks,
)


def _model(path: Path, step: int = 1) -> ModelArtifact:
    path.mkdir(parents=True, exist_ok=True)
    return ModelArtifact(path=path, step=step)


def test_versions_start_at_one_and_latest_moves(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Publishing three times gives v1..v3 and `latest` resolves to v3."""
    refs = [registry.publish(_model(tmp_path / f"m{i}", i), "model") for i in range(3)]
    assert [r.version for r in refs] == [1, 2, 3]
    assert registry.resolve("art://model").version == 3
    assert registry.resolve("art://model:latest").version == 3
    assert registry.resolve("art://model:2").path == str(tmp_path / "m1")
    assert registry.versions("model") == [1, 2, 3]
    assert registry.names() == ["model"]


def test_aliases(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Custom aliases set at publish or later resolve, move, and can be removed."""
    registry.publish(_model(tmp_path / "a"), "model", aliases=["best"])
    registry.publish(_model(tmp_path / "b"), "model")
    assert registry.resolve("model:best").version == 1
    registry.set_alias("model", "best", 2)
    assert registry.resolve("art://model:best").version == 2
    assert registry.aliases("model") == {"best": 2, "latest": 2}
    registry.remove_alias("model", "best")
    with pytest.raises(ArtifactNotFoundError, match="alias 'best'"):
        registry.resolve("model:best")


def test_subpath_joins_path(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """A SUBPATH is joined onto the resolved data path."""
    registry.publish(_model(tmp_path / "a"), "model")
    assert (
        registry.resolve("art://model:v1/iter_1/model.pt").path
        == f"{tmp_path / 'a'}/iter_1/model.pt"
    )


def test_record_has_producer_inputs_and_metadata(
    registry: ArtifactRegistry, tmp_path: Path
) -> None:
    """The version record keeps inputs, the producer and the artifact's metadata."""
    data = registry.publish(_model(tmp_path / "d"), "data", inputs=())
    producer = hooks.Producer("run-1", ("train.py", "--x"), "abc123", False, "sha256:ff")
    ref = registry.publish(
        _model(tmp_path / "m", 7), "model", inputs=[data.uri, "hf://org/ds"], producer=producer
    )
    record = registry.record(ref)
    assert record.inputs == ("art://data:v1", "hf://org/ds")
    assert record.producer == producer
    assert record.artifact["step"] == 7
    loaded = registry.load(ref)
    assert isinstance(loaded, ModelArtifact) and loaded.step == 7 and loaded.uri == "art://model:v1"


def test_default_inputs_are_used_uris(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Without explicit inputs, publish records what this process used (from_uri)."""
    registry.publish(_model(tmp_path / "d"), "base")
    hooks.set_producer_provider(lambda: None)
    ModelArtifact.from_uri("art://base", registry=registry)
    ref = registry.publish(_model(tmp_path / "m"), "tuned")
    assert registry.record(ref).inputs == ("art://base:v1",)


def test_save_writes_metadata_and_publishes(tmp_path: Path) -> None:
    """artifact.save() writes metadata.json, publishes to the default registry, sets uri."""
    art = _model(tmp_path / "ckpt", 3)
    events: list[hooks.ArtifactEvent] = []

    class Listener:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            events.append(event)

    remove = hooks.add_listener(Listener())
    try:
        ref = art.save(name="pretrain-model")
    finally:
        remove()
    assert art.uri == "art://pretrain-model:v1" == ref.uri
    on_disk = json.loads((tmp_path / "ckpt" / "metadata.json").read_text())
    assert on_disk["name"] == "pretrain-model" and on_disk["producer"].startswith("implicit-")
    assert [e.kind for e in events] == ["published"]
    assert kit_artifacts.get_registry().root == str(Path(os.environ["NEMOTRON_HOME"]) / "artifacts")
    again = ModelArtifact.from_uri("art://pretrain-model")
    assert again.step == 3 and again.uri == "art://pretrain-model:v1"


def test_registry_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NEMOTRON_ARTIFACTS_ROOT overrides the default registry location."""
    monkeypatch.setenv("NEMOTRON_ARTIFACTS_ROOT", str(tmp_path / "elsewhere"))
    assert kit_artifacts.get_registry().root == str(tmp_path / "elsewhere")


def test_copy_in(registry: ArtifactRegistry, data_dir: Path) -> None:
    """copy=True stores the data inside the registry root and verifies against the copy."""
    (data_dir / "sub" / "metadata.json").write_text("{}")  # nested: data, not our metadata
    art = PretrainBlendsArtifact(path=data_dir, total_tokens=1, total_sequences=1)
    ref = registry.publish(art, "blend", copy=True)
    assert ref.path.startswith(registry.root)
    assert (Path(ref.path) / "sub" / "shard_1.bin").read_bytes() == b"b" * 1000
    assert kit_artifacts.verify(ref.uri, registry=registry).ok


def test_memory_storage_fake(tmp_path: Path) -> None:
    """The in-library fake storage supports the same publish/resolve/alias flow."""
    reg = ArtifactRegistry("mem://x", storage=MemoryStorage())
    for i in range(3):
        reg.publish(
            ModelArtifact(path="/nowhere", step=i), "m", aliases=["first"] if i == 0 else ()
        )
    assert reg.resolve("m").version == 3
    assert reg.resolve("m:first").version == 1
    assert reg.versions("m") == [1, 2, 3]


def test_latest_heals_after_crash_before_alias_update(
    registry: ArtifactRegistry, tmp_path: Path
) -> None:
    """If `latest` lags behind a committed version, resolution still finds the newest."""
    registry.publish(_model(tmp_path / "a"), "model")
    registry.publish(_model(tmp_path / "b"), "model")
    registry.storage.write_atomic("model/aliases/latest", b"1\n")  # as if killed before update
    assert registry.resolve("model").version == 2


# -- error cases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "fragments"),
    [
        pytest.param(
            "art://model:v9", ["art://model:v9", "v1..v2", "latest"], id="missing-version"
        ),
        pytest.param("art://model:gold", ["alias 'gold'", "v1..v2"], id="missing-alias"),
        pytest.param("art://nomodel", ["no artifact named 'nomodel'"], id="missing-name"),
        pytest.param("art://Model", ["did you mean 'model'"], id="case-typo"),
    ],
)
def test_not_found_names_existing_versions(
    registry: ArtifactRegistry, tmp_path: Path, ref: str, fragments: list[str]
) -> None:
    """ArtifactNotFoundError names the ref and the versions/aliases that do exist."""
    registry.publish(_model(tmp_path / "a"), "model")
    registry.publish(_model(tmp_path / "b"), "model")
    with pytest.raises(ArtifactNotFoundError) as info:
        registry.resolve(ref)
    assert isinstance(info.value, LookupError)
    for fragment in fragments:
        assert fragment in str(info.value)
    if "v9" in ref:
        assert info.value.available == (1, 2)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("../escape", id="traversal"),
        pytest.param("a/b", id="slash"),
        pytest.param("..", id="dotdot"),
        pytest.param(".staging", id="hidden"),
        pytest.param("", id="empty"),
    ],
)
def test_publish_rejects_bad_names(registry: ArtifactRegistry, tmp_path: Path, name: str) -> None:
    """Names that could escape the registry root are rejected before anything is written."""
    art = _model(tmp_path / "a")
    art.name = None
    with pytest.raises(ArtifactURIError):
        registry.publish(art, name or "..")
    assert not (tmp_path / "registry").exists() or registry.names() == []


@pytest.mark.parametrize(
    ("alias", "version"),
    [
        pytest.param("latest", 1, id="latest-is-automatic"),
        pytest.param("v2", 1, id="alias-looks-like-version"),
        pytest.param("bad/alias", 1, id="slash-in-alias"),
    ],
)
def test_set_alias_rejects_bad_alias(
    registry: ArtifactRegistry, tmp_path: Path, alias: str, version: int
) -> None:
    """Reserved or malformed alias names are ArtifactURIErrors."""
    registry.publish(_model(tmp_path / "a"), "model")
    with pytest.raises(ArtifactURIError):
        registry.set_alias("model", alias, version)


def test_set_alias_to_missing_version(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Pointing an alias at a version that does not exist names the existing ones."""
    registry.publish(_model(tmp_path / "a"), "model")
    with pytest.raises(ArtifactNotFoundError, match="v1"):
        registry.set_alias("model", "best", 5)


def test_unpinned_input_rejected(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Inputs must be pinned versions so lineage never floats."""
    with pytest.raises(ArtifactURIError, match="not pinned"):
        registry.publish(_model(tmp_path / "a"), "model", inputs=["art://data:latest"])


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"format": "kit-artifacts/version-record/1", "type": "Mod', id="truncated"),
        pytest.param(b'{"type": "ModelArtifact"}', id="missing-keys"),
    ],
)
def test_corrupt_version_record(registry: ArtifactRegistry, tmp_path: Path, content: bytes) -> None:
    """A corrupt record is an ArtifactMetadataError naming the record file."""
    registry.publish(_model(tmp_path / "a"), "model")
    record = tmp_path / "registry" / "model" / "v1" / "version.json"
    record.write_bytes(content)
    with pytest.raises(ArtifactMetadataError) as info:
        registry.resolve("model:v1")
    assert info.value.path == str(record)


def test_wrong_type_from_uri(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """Loading a ModelArtifact version as PretrainBlendsArtifact is an ArtifactTypeError."""
    registry.publish(_model(tmp_path / "a"), "model")
    with pytest.raises(ArtifactTypeError, match="is a ModelArtifact, not a PretrainBlendsArtifact"):
        PretrainBlendsArtifact.from_uri("art://model", registry=registry)


def test_unknown_type_in_registry(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """A record whose type no process registered raises ArtifactTypeError naming it."""
    ref = registry.publish(_model(tmp_path / "a"), "model")
    key = tmp_path / "registry" / "model" / "v1" / "version.json"
    data = json.loads(key.read_text())
    data["type"] = data["artifact"]["type"] = "MysteryArtifact"
    key.write_text(json.dumps(data))
    with pytest.raises(ArtifactTypeError, match="MysteryArtifact"):
        registry.load(ref)


def test_wandb_form_without_resolver(registry: ArtifactRegistry) -> None:
    """The W&B URI form needs kit-track's resolver; without one the error says so."""
    with pytest.raises(ArtifactURIError, match="W&B support needs kit-track"):
        ModelArtifact.from_uri("art://team/proj/model:v1", registry=registry)


def test_wandb_form_with_resolver(tmp_path: Path) -> None:
    """A registered remote resolver turns the W&B form into a local load."""
    _model(tmp_path / "dl").write_metadata()
    seen = []

    def resolver(entity: str, project: str, name: str, version: str) -> str:
        seen.append((entity, project, name, version))
        return str(tmp_path / "dl")

    hooks.register_remote_resolver(resolver)
    art = ModelArtifact.from_uri("art://team/proj/model:v4")
    assert seen == [("team", "proj", "model", "v4")] and art.step == 1


def test_copy_of_missing_data(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """copy=True of data that does not exist fails before any version is created."""
    art = ModelArtifact(path=tmp_path / "missing", step=1)
    with pytest.raises(ArtifactNotFoundError, match="cannot copy"):
        registry.publish(art, "model", copy=True)
    assert registry.versions("model") == []
