"""Integrity manifests and verify(): missing, changed and extra files; sampled mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit_artifacts import (
    ArtifactMetadataError,
    ArtifactRegistry,
    Manifest,
    PretrainBlendsArtifact,
    verify,
)
from kit_artifacts._integrity import compute_manifest, hash_file


def _blend(path: Path) -> PretrainBlendsArtifact:
    return PretrainBlendsArtifact(path=path, total_tokens=1, total_sequences=1)


def test_manifest_lists_every_file(registry: ArtifactRegistry, data_dir: Path) -> None:
    """The manifest has each file's relative path, size and an xxh3-128 digest."""
    ref = registry.publish(_blend(data_dir), "blend")
    manifest = registry.manifest(ref)
    assert manifest is not None and manifest.algorithm == "xxh3_128"
    assert [(f.path, f.size) for f in manifest.files] == [
        ("shard_0.bin", 4096),
        ("sub/shard_1.bin", 1000),
    ]
    assert all(f.digest and len(f.digest) == 32 for f in manifest.files)
    assert registry.record(ref).integrity == {
        "algorithm": "xxh3_128",
        "mode": "full",
        "files": 2,
        "bytes": 5096,
    }


def test_metadata_json_is_not_part_of_identity(registry: ArtifactRegistry, data_dir: Path) -> None:
    """Rewriting metadata.json (tracking info) does not make verify fail."""
    art = _blend(data_dir)
    ref = art.save(name="blend", registry=registry)
    art.tracking = {"run_id": "x"}
    art.write_metadata()
    assert verify(ref.uri, registry=registry).ok


def test_verify_reports_missing_changed_extra(registry: ArtifactRegistry, data_dir: Path) -> None:
    """verify lists exactly the files deleted, modified (same size too) and added."""
    ref = registry.publish(_blend(data_dir), "blend")
    (data_dir / "sub" / "shard_1.bin").unlink()
    (data_dir / "shard_0.bin").write_bytes(b"z" * 4096)  # same size, different content
    (data_dir / "new.bin").write_bytes(b"n")
    report = verify(ref.uri, registry=registry)
    assert (report.missing, report.changed, report.extra) == (
        ("sub/shard_1.bin",),
        ("shard_0.bin",),
        ("new.bin",),
    )
    assert not report.ok


def test_sampled_mode_detects_size_and_window_changes(tmp_path: Path) -> None:
    """Sampled hashing notices edits in the head/middle/tail windows and size changes."""
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(5 << 20))
    _, before = hash_file(str(big), "sampled")
    with big.open("r+b") as fh:
        fh.seek(0)
        fh.write(b"x")
    _, after = hash_file(str(big), "sampled")
    assert before != after
    manifest = compute_manifest(str(tmp_path), "sampled")
    assert manifest.mode == "sampled" and manifest.files[0].size == 5 << 20


def test_manifest_json_round_trip(data_dir: Path) -> None:
    """Manifest.to_json / from_json are inverse."""
    manifest = compute_manifest(str(data_dir))
    assert Manifest.from_json(manifest.to_json()) == manifest


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(0, id="empty"),
        pytest.param(1_500_000, id="read-path"),
        pytest.param(17_920_000, id="mmap-path"),
    ],
)
def test_hash_matches_reference_xxh3(tmp_path: Path, size: int) -> None:
    """Our hashing (reads or mmap) equals xxh3_128 of the whole content."""
    import xxhash

    blob = (bytes(range(256)) * (size // 256 + 1))[:size]
    path = tmp_path / "f.bin"
    path.write_bytes(blob)
    assert hash_file(str(path))[1] == xxhash.xxh3_128(blob).hexdigest()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            b'{"algorithm": "xxh3_128", "mode": "full", "root": "/x", "files": [["a", 1',
            id="truncated",
        ),
        pytest.param(b'{"algorithm": "xxh3_128"}', id="missing-files"),
    ],
)
def test_corrupt_manifest(registry: ArtifactRegistry, data_dir: Path, content: bytes) -> None:
    """A corrupt manifest is an ArtifactMetadataError naming the manifest file."""
    ref = registry.publish(_blend(data_dir), "blend")
    key = registry.record(ref).manifest
    assert key is not None
    (Path(registry.root) / key).write_bytes(content)
    with pytest.raises(ArtifactMetadataError) as info:
        verify(ref.uri, registry=registry)
    assert info.value.path == str(Path(registry.root) / key)


def test_verify_without_manifest(registry: ArtifactRegistry) -> None:
    """A version whose data was not local at publish has no manifest: a clear error."""
    ref = registry.publish(
        PretrainBlendsArtifact(path="s3://b/x", total_tokens=1, total_sequences=1), "remote"
    )
    with pytest.raises(ArtifactMetadataError, match="no integrity manifest"):
        verify(ref.uri, registry=registry)


def test_file_artifact_hashes_its_directory(registry: ArtifactRegistry, tmp_path: Path) -> None:
    """A file artifact (RL manifest.json) covers its whole output directory, copy included."""
    from kit_artifacts import SplitJsonlDataArtifact

    out = tmp_path / "rl"
    out.mkdir()
    (out / "train.jsonl").write_text('{"a": 1}\n')
    (out / "manifest.json").write_text('{"train": "train.jsonl"}')
    art = SplitJsonlDataArtifact(path=out / "manifest.json", total_sequences=1)
    zero_copy = art.save(name="rl", registry=registry)
    copied = registry.publish(art, "rl-copy", copy=True)
    assert copied.path.endswith("/manifest.json") and Path(copied.path).exists()
    manifest = registry.manifest(zero_copy)
    assert manifest is not None
    assert sorted(f.path for f in manifest.files) == ["manifest.json", "train.jsonl"]
    (out / "train.jsonl").write_text("changed\n")
    assert verify(zero_copy.uri, registry=registry).changed == ("train.jsonl",)
    assert verify(copied.uri, registry=registry).ok


def test_raise_for_problems(registry: ArtifactRegistry, data_dir: Path) -> None:
    """A failing report raises IntegrityError (a ValueError) naming the ref and the files."""
    from kit_artifacts import IntegrityError

    ref = registry.publish(_blend(data_dir), "blend")
    verify(ref.uri, registry=registry).raise_for_problems()  # clean: no error
    (data_dir / "shard_0.bin").unlink()
    with pytest.raises(IntegrityError, match=r"art://blend:v1 .*missing shard_0.bin \(1\)") as info:
        verify(ref.uri, registry=registry).raise_for_problems()
    assert isinstance(info.value, ValueError) and info.value.missing == ("shard_0.bin",)
