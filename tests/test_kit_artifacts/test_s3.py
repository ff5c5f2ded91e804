"""Remote registry on a real S3 API server (moto, 127.0.0.1): publish, resolve, alias, lineage."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kit_artifacts import (
    ArtifactNotFoundError,
    ArtifactRegistry,
    ModelArtifact,
    PretrainBlendsArtifact,
    lineage,
)


@pytest.fixture()
def s3_registry(s3_endpoint: str) -> ArtifactRegistry:
    """A registry in a fresh bucket of the moto server."""
    import boto3

    bucket = f"kit-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return ArtifactRegistry(
        f"s3://{bucket}/registry", storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}}
    )


def test_publish_resolve_alias_over_s3(s3_registry: ArtifactRegistry, data_dir: Path) -> None:
    """Versions, latest, vN and aliases work against the S3 API."""
    art = PretrainBlendsArtifact(path=data_dir, total_tokens=3, total_sequences=1)
    first = s3_registry.publish(art, "blend", aliases=["golden"], inputs=())
    second = s3_registry.publish(art, "blend", inputs=())
    assert (first.version, second.version) == (1, 2)
    assert s3_registry.resolve("art://blend").version == 2
    assert s3_registry.resolve("art://blend:v1").path == str(data_dir)
    assert s3_registry.resolve("art://blend:golden").version == 1
    s3_registry.set_alias("blend", "golden", 2)
    assert s3_registry.resolve("blend:golden").version == 2
    assert s3_registry.versions("blend") == [1, 2]
    assert s3_registry.names() == ["blend"]
    loaded = PretrainBlendsArtifact.from_uri("art://blend:v1", registry=s3_registry)
    assert loaded.total_tokens == 3
    manifest = s3_registry.manifest(first)
    assert manifest is not None and len(manifest.files) == 2


def test_not_found_over_s3(s3_registry: ArtifactRegistry) -> None:
    """A missing version over S3 names the existing ones."""
    s3_registry.publish(ModelArtifact(path="/x", step=1), "m", inputs=())
    with pytest.raises(ArtifactNotFoundError, match="existing versions: v1"):
        s3_registry.resolve("m:v5")


def test_lineage_over_s3(s3_registry: ArtifactRegistry) -> None:
    """Lineage up and down is answered from the S3 registry."""
    data = s3_registry.publish(ModelArtifact(path="/d", step=0), "data", inputs=())
    s3_registry.publish(ModelArtifact(path="/m", step=1), "model", inputs=[data.uri])
    up = lineage("art://model", "up", registry=s3_registry)
    assert "art://data:v1" in up.nodes
    down = lineage("art://data:v1", "down", registry=s3_registry)
    assert "art://model:v1" in down.nodes


def test_copy_in_to_s3(s3_registry: ArtifactRegistry, data_dir: Path) -> None:
    """copy=True uploads the data under the registry prefix and records the s3:// path."""
    ref = s3_registry.publish(ModelArtifact(path=data_dir, step=1), "m", copy=True, inputs=())
    assert ref.path.startswith(s3_registry.root + "/m/blobs/")
    storage = s3_registry.storage
    rel = ref.path[len(s3_registry.root) + 1 :]
    assert storage.read_bytes(rel + "/sub/shard_1.bin") == b"b" * 1000


CONCURRENT = """
import sys
from kit_artifacts import ArtifactRegistry, ModelArtifact
options = {"client_kwargs": {"endpoint_url": sys.argv[2]}}
reg = ArtifactRegistry(sys.argv[1], storage_options=options)
for i in range(10):
    reg.publish(ModelArtifact(path="/p", step=i), "shared", inputs=(), hash_mode="none")
"""


def test_concurrent_publishers_over_s3(s3_registry: ArtifactRegistry, s3_endpoint: str) -> None:
    """3 processes x 10 publishes through conditional PUTs give exactly versions 1..30."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, s3_registry.root, s3_endpoint],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert s3_registry.versions("shared") == list(range(1, 31))
    assert s3_registry.resolve("shared").version == 30
