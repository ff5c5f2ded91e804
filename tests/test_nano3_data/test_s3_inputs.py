"""s3:// inputs through fsspec, against a real S3 server (moto) on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nano3.data_prep import (
    DatasetSpec,
    FakeTokenizer,
    InputNotFoundError,
    PretrainDataConfig,
    prepare_pretrain,
)
from test_nano3_data.conftest import text_records, tree_bytes, write_jsonl

MakeCfg = Callable[..., PretrainDataConfig]


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with a bucket `corpus`; fsspec pointed at it."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import boto3
    import fsspec

    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for key, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    # What FSSPEC_S3_ENDPOINT_URL in the environment sets for a real run.
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": url})
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="corpus")
    fsspec.AbstractFileSystem.clear_instance_cache()
    try:
        yield url
    finally:
        fsspec.AbstractFileSystem.clear_instance_cache()
        server.stop()


def _upload(url: str, local: Path, key: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=url).upload_file(str(local), "corpus", key)


def test_s3_glob_gives_same_bytes_as_local(tmp_path: Path, make_pretrain: MakeCfg,
                                           s3_endpoint: str) -> None:
    """Shards from s3://corpus/web/*.jsonl equal those from the same files on disk."""
    files: list[Any] = []
    for i in range(2):
        f = write_jsonl(tmp_path / "local" / f"part-{i}.jsonl", text_records(150, seed=i))
        _upload(s3_endpoint, f, f"web/part-{i}.jsonl")
        files.append(f)
    local = prepare_pretrain(make_pretrain(
        [DatasetSpec(name="web", path=str(tmp_path / "local" / "*.jsonl"))],
        output_dir=str(tmp_path / "o-local")), tokenizer=FakeTokenizer())
    remote = prepare_pretrain(make_pretrain(
        [DatasetSpec(name="web", path="s3://corpus/web/*.jsonl")],
        output_dir=str(tmp_path / "o-s3")), tokenizer=FakeTokenizer())
    assert local is not None and remote is not None
    assert remote.total_sequences == 300
    assert tree_bytes(Path(local.path)) == tree_bytes(Path(remote.path))
    info = remote.source_datasets[0]
    assert info.uri == "s3://corpus/web/*.jsonl" and info.num_files == 2  # type: ignore[union-attr]


def test_s3_glob_matching_nothing(make_pretrain: MakeCfg, s3_endpoint: str) -> None:
    """An s3 glob with no match is an InputNotFoundError naming the pattern."""
    cfg = make_pretrain([DatasetSpec(name="web", path="s3://corpus/none/*.jsonl")])
    with pytest.raises(InputNotFoundError, match="s3://corpus/none"):
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())
