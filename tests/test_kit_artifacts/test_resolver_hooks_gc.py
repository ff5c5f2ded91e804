"""`${art:...}` resolution and pinning, the hooks contract, and garbage collection."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import kit_artifacts
from kit_artifacts import (
    ArtifactNotFoundError,
    ArtifactURIError,
    ModelArtifact,
    PretrainBlendsArtifact,
    hooks,
)


def _publish_blend(path: Path, tokens: int) -> kit_artifacts.ArtifactRef:
    path.mkdir(parents=True, exist_ok=True)
    return PretrainBlendsArtifact(path=path, total_tokens=tokens, total_sequences=1).save(
        name="blend"
    )


def test_resolver_path_field_and_pinning(tmp_path: Path) -> None:
    """${art:...} gives the path or a field, and `latest` stays pinned within the process."""
    _publish_blend(tmp_path / "a", 10)
    cfg = OmegaConf.create(
        {
            "path": "${art:blend}",
            "tokens": "${art:blend,total_tokens}",
            "uri": "${art:blend:latest,uri}",
            "file": "${art:blend/blend.json}",
            "v": "${art:blend:1,version}",
        }
    )
    assert cfg.path == str(tmp_path / "a")
    assert cfg.tokens == 10
    assert cfg.file == f"{tmp_path / 'a'}/blend.json"
    _publish_blend(tmp_path / "b", 20)  # a newer version appears mid-run
    assert cfg.path == str(tmp_path / "a")  # still pinned to v1
    assert cfg.uri == "art://blend:v1"
    assert cfg.v == 1
    assert kit_artifacts.pinned_refs()["blend:latest"] == "art://blend:v1"


def test_resolver_records_used_inputs(tmp_path: Path) -> None:
    """Resolving records the pinned URI as an input and tells listeners."""
    _publish_blend(tmp_path / "a", 10)
    hooks.set_producer_provider(lambda: None)
    events: list[hooks.ArtifactEvent] = []

    class Listener:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            events.append(event)

    remove = hooks.add_listener(Listener())
    try:
        assert OmegaConf.create({"p": "${art:blend}"}).p
    finally:
        remove()
    assert hooks.used_inputs() == ("art://blend:v1",)
    assert [(e.kind, e.uri) for e in events] == [("used", "art://blend:v1")]
    assert events[0].ref is not None and events[0].artifact_type == "PretrainBlendsArtifact"


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        pytest.param(
            ("blend", "nosuchfield"), ArtifactURIError, "no field 'nosuchfield'", id="unknown-field"
        ),
        pytest.param(
            ("blend:v7",), ArtifactNotFoundError, "existing versions: v1", id="missing-version"
        ),
        pytest.param(("../etc",), ArtifactURIError, "invalid artifact name", id="traversal"),
        pytest.param(
            ("a", "b", "c"), ArtifactURIError, "bad ${art:...} arguments", id="too-many-args"
        ),
    ],
)
def test_resolver_errors(
    tmp_path: Path, args: tuple[str, ...], error: type[Exception], fragment: str
) -> None:
    """Bad ${art:...} expressions raise our typed error; through OmegaConf the message survives."""
    _publish_blend(tmp_path / "a", 10)
    with pytest.raises(error, match=None) as info:
        kit_artifacts.resolve_art(*args)
    assert fragment in str(info.value)
    with pytest.raises(Exception, match=error.__name__) as wrapped:
        _ = OmegaConf.create({"x": "${art:" + ",".join(args) + "}"}).x
    assert fragment in str(wrapped.value)


def test_listener_failure_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A raising listener is warned about once and skipped; others still hear every event."""
    heard: list[str] = []

    class Broken:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            raise RuntimeError("boom")

    class Good:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            heard.append(event.uri)

    removers = [hooks.add_listener(Broken()), hooks.add_listener(Good())]
    try:
        with caplog.at_level(logging.WARNING, logger="kit_artifacts.hooks"):
            for i in range(3):
                hooks.emit(hooks.ArtifactEvent("published", None, f"art://x:v{i + 1}", "T", "/p"))
    finally:
        for remove in removers:
            remove()
    assert heard == ["art://x:v1", "art://x:v2", "art://x:v3"]
    assert len([r for r in caplog.records if "boom" in r.getMessage()]) == 1


def test_producer_provider_and_reset() -> None:
    """current_producer uses the provider; setting a provider clears the used-input log."""
    hooks.emit(hooks.ArtifactEvent("used", None, "hf://a", "T", "/p"))
    assert hooks.used_inputs() == ("hf://a",)
    produced = hooks.Producer("run-9", ("a",), None, None, "d")
    hooks.set_producer_provider(lambda: produced)
    assert hooks.used_inputs() == ()
    assert hooks.current_producer() == produced
    hooks.set_producer_provider(None)
    assert hooks.current_producer().run_id.startswith("implicit-")


def test_gc_dry_run_then_delete(tmp_path: Path) -> None:
    """gc keeps latest, aliases and inputs of kept versions; deletes the rest, no outside data."""
    reg = kit_artifacts.get_registry()
    data = tmp_path / "zero-copy"
    data.mkdir()
    (data / "f.bin").write_bytes(b"keep me")
    refs = [reg.publish(ModelArtifact(path=data, step=i), "m") for i in range(4)]
    reg.set_alias("m", "best", 2)
    reg.publish(ModelArtifact(path=data, step=9), "child", inputs=[refs[0].uri])
    report = kit_artifacts.gc()
    assert report.dry_run and report.removed == ("art://m:v3",)
    assert reg.versions("m") == [1, 2, 3, 4]
    report = kit_artifacts.gc(dry_run=False)
    assert report.removed == ("art://m:v3",)
    assert reg.versions("m") == [1, 2, 4]
    assert (data / "f.bin").read_bytes() == b"keep me"
    with pytest.raises(ArtifactNotFoundError, match=r"v1\.\.v2, v4"):
        reg.resolve("m:v3")
    assert reg.publish(ModelArtifact(path=data, step=5), "m").version == 5  # numbers never reused


def test_gc_removes_copied_data_inside_root(tmp_path: Path) -> None:
    """Data copied into the registry goes with its version."""
    reg = kit_artifacts.get_registry()
    src = tmp_path / "src"
    src.mkdir()
    (src / "w.bin").write_bytes(b"w")
    old = reg.publish(ModelArtifact(path=src, step=1), "m", copy=True)
    reg.publish(ModelArtifact(path=src, step=2), "m", copy=True)
    assert Path(old.path).exists()
    kit_artifacts.gc(dry_run=False)
    assert not Path(old.path).exists() and (src / "w.bin").exists()
