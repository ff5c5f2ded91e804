"""Config fields typed as an artifact class: loaded once, with lineage, errors at the key path."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from omegaconf import OmegaConf

from kit_artifacts import (
    ArtifactRegistry,
    ModelArtifact,
    PretrainBlendsArtifact,
    hooks,
)
from kit_config import ConfigValidationError, structure


@attrs.define
class TrainConfig:
    data: PretrainBlendsArtifact
    steps: int = 1


@attrs.define
class OptionalInput:
    model: ModelArtifact | None = None


@pytest.fixture()
def published(tmp_path: Path) -> Path:
    """A `blend` PretrainBlendsArtifact v1 and a `ckpt` ModelArtifact v1."""
    data = tmp_path / "blend-data"
    data.mkdir()
    PretrainBlendsArtifact(path=data, total_tokens=10, total_sequences=2,
                           blend_path=str(data / "blend.json"),
                           tokenizer_uri="gpt2").save(name="blend")
    model = tmp_path / "ckpt"
    model.mkdir()
    ModelArtifact(path=model, step=3).save(name="ckpt")
    return data


@pytest.fixture()
def used() -> Iterator[list[hooks.ArtifactEvent]]:
    """Every `used` event, and a count of registry resolutions (in `used_resolves`)."""
    events: list[hooks.ArtifactEvent] = []

    class Listener:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            if event.kind == "used":
                events.append(event)

    remove = hooks.add_listener(Listener())
    yield events
    remove()


@pytest.fixture()
def resolves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the registry: every `resolve` call, in order."""
    calls: list[str] = []
    real = ArtifactRegistry.resolve

    def spy(self: ArtifactRegistry, uri_or_name: Any) -> Any:
        calls.append(str(uri_or_name))
        return real(self, uri_or_name)

    monkeypatch.setattr(ArtifactRegistry, "resolve", spy)
    return calls


@pytest.mark.parametrize("value", ["art://blend", "art://blend:v1", "${art:blend}",
                                   "${art:blend:latest}"],
                         ids=["uri", "pinned-uri", "interpolation", "interpolation-latest"])
def test_typed_input_loads_once_with_lineage(value: str, published: Path,
                                             used: list[hooks.ArtifactEvent],
                                             resolves: list[str]) -> None:
    """Either documented form gives the typed artifact: one resolution, one `used` event."""
    cfg = structure(OmegaConf.create({"data": value}), TrainConfig)
    assert isinstance(cfg.data, PretrainBlendsArtifact)
    assert cfg.data.blend_path == str(published / "blend.json")
    assert cfg.data.tokenizer_uri == "gpt2"
    assert cfg.data.path == str(published)
    assert len(resolves) == 1
    assert [e.uri for e in used] == ["art://blend:v1"]


def test_optional_typed_input(published: Path) -> None:
    """`ModelArtifact | None` takes null or a model."""
    assert structure(OmegaConf.create({}), OptionalInput).model is None
    model = structure(OmegaConf.create({"model": "art://ckpt"}), OptionalInput).model
    assert isinstance(model, ModelArtifact) and model.step == 3


def test_plain_data_path_reads_without_lineage(published: Path,
                                               used: list[hooks.ArtifactEvent]) -> None:
    """A path that is not a registry reference is read, and records no input."""
    cfg = structure({"data": str(published)}, TrainConfig)
    assert cfg.data.total_tokens == 10
    assert used == []


def test_load_emit_false_records_nothing(published: Path,
                                         used: list[hooks.ArtifactEvent]) -> None:
    """Reading for inspection is split from lineage."""
    PretrainBlendsArtifact.load(published, emit=False)
    PretrainBlendsArtifact.from_uri("art://blend", emit=False)
    assert used == []
    PretrainBlendsArtifact.from_uri("art://blend")
    assert [e.uri for e in used] == ["art://blend:v1"]


BAD = [
    ("wrong-type", "art://ckpt", "holds a ModelArtifact, not a PretrainBlendsArtifact"),
    ("missing-version", "art://blend:v9", "existing versions: v1"),
    ("unknown-name", "art://nope", "nope"),
    ("bad-uri", "art://../etc", "invalid artifact name"),
    ("not-a-string", 7, "expected an art://NAME[:VERSION] URI"),
    ("no-metadata", "/nonexistent/dir", "/nonexistent/dir"),
    ("bad-interpolation", "${art:nope}", "cannot resolve ${art:nope}"),
]


@pytest.mark.parametrize(("value", "needle"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_typed_input_is_a_config_problem_at_its_key(value: Any, needle: str,
                                                         published: Path) -> None:
    """Each failure is ONE ConfigProblem at `data`, exit code 2, one-line message."""
    with pytest.raises(ConfigValidationError) as info:
        structure(OmegaConf.create({"data": value}), TrainConfig)
    error = info.value
    assert [p.path for p in error.problems] == ["data"]
    assert needle in error.problems[0].message
    assert error.exit_code == 2
    assert "\n" not in str(error)


def test_typed_input_unstructures_to_its_reference(published: Path) -> None:
    """A config records its input as the pinned URI, which structures back to the same data."""
    from kit_config import unstructure

    cfg = structure(OmegaConf.create({"data": "art://blend"}), TrainConfig)
    plain = unstructure(cfg)
    assert plain == {"data": "art://blend:v1", "steps": 1}
    again = structure(OmegaConf.create(plain), TrainConfig)
    assert again.data.path == cfg.data.path
    from_path = structure({"data": str(published)}, TrainConfig)
    assert unstructure(from_path)["data"] == str(published)
