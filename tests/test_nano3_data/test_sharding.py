"""Shard planning: any shard size reads every record exactly once; tiny configs end to end."""
from __future__ import annotations

import io
import itertools
import json
import subprocess
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nano3.data_prep import DatasetSpec, _inputs
from nano3.data_prep._inputs import (
    CORPUS_DIR,
    IssueCounter,
    iter_line_blocks,
    iter_record_batches,
    plan_shards,
    resolve_dataset_files,
)
from test_nano3_data.conftest import PYTHON, subprocess_env

_docs = st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
                 min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(docs=_docs, shard_bytes=st.integers(1, 400), blank_every=st.integers(0, 5),
       batch=st.integers(1, 9), block=st.sampled_from([1, 7, 64, 1 << 22]))
def test_every_record_read_exactly_once_for_any_shard_size(
        tmp_path_factory: pytest.TempPathFactory, docs: list[str], shard_bytes: int,
        blank_every: int, batch: int, block: int) -> None:
    """Byte-range shards partition the records, whatever the shard size, read block size
    and blank lines; each record keeps its line's byte offset; batches hold <= `batch`."""
    path = tmp_path_factory.mktemp("s") / "d.jsonl"
    offsets = []
    with open(path, "wb") as f:
        for i, d in enumerate(docs):
            offsets.append(f.tell())
            f.write(json.dumps({"text": d, "i": i}, ensure_ascii=False).encode() + b"\n")
            if blank_every and i % blank_every == 0:
                f.write(b"\n")
    ds = DatasetSpec(name="d", path=str(path))
    shards = plan_shards([ds], [resolve_dataset_files(ds)], shard_bytes)
    sizes = [s.end - s.start for s in shards]  # equal byte ranges, none over shard_bytes
    size = path.stat().st_size
    assert len(shards) == -(-size // shard_bytes) and sum(sizes) == size
    assert max(sizes) <= shard_bytes and max(sizes) - min(sizes) <= 1
    seen: list[int] = []
    consumed = 0
    with mock.patch.object(_inputs, "_READ_BLOCK", block):
        for shard in shards:
            for b in iter_record_batches(shard, ["text"], batch, IssueCounter("fail")):
                assert len(b.records) <= batch
                assert b.positions == [offsets[r["i"]] for r in b.records]
                seen += [r["i"] for r in b.records]
                consumed += b.nbytes
    assert seen == list(range(len(docs)))
    assert consumed == path.stat().st_size
    assert [s.key for s in shards] == [f"d_{i:06d}" for i in range(len(shards))]


@settings(max_examples=200, deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r\n", b"xyz\n"]), max_size=30)
       .map(b"".join), cuts=st.lists(st.integers(0, 80), max_size=4), block=st.integers(1, 9))
def test_iter_line_blocks_partitions_lines_whatever_the_block_size(
        data: bytes, cuts: list[int], block: int) -> None:
    """Block reads give the lines `readline` gives: each line once, owned by the range its
    first byte lies in, with its byte offset (block boundaries inside lines included)."""
    want, pos = [], 0
    for line in io.BytesIO(data).readlines():
        want.append((pos, line.removesuffix(b"\n")))
        pos += len(line)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    got = []
    for a, b in itertools.pairwise(bounds):
        for first, lines in iter_line_blocks(io.BytesIO(data), a, b, block):
            assert lines, "a block holds at least one line"
            for line in lines:
                got.append((first, line))
                first += len(line) + 1
    assert got == want


@pytest.mark.parametrize(("stage", "name", "check"), [
    pytest.param("pretrain", "nano3-pretrain-data-tiny", "blend.json", id="pretrain"),
    pytest.param("sft", "nano3-sft-data-tiny", "training.parquet", id="sft"),
    pytest.param("rl", "nano3-rl-data-tiny", "manifest.json", id="rl"),
])
def test_tiny_configs_publish_the_names_the_train_stages_consume(
        stage: str, name: str, check: str) -> None:
    """`python -m nano3.data_prep.STAGE --config tiny.yaml` publishes NAME-tiny:v1."""
    cfg = CORPUS_DIR.parent / "config" / "data_prep" / stage / "tiny.yaml"
    res = subprocess.run([PYTHON, "-m", f"nano3.data_prep.{stage}", "--config", str(cfg)],
                         env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1].endswith(f" published art://{name}:v1")
    from kit_artifacts import get_registry

    ref = get_registry().resolve(f"art://{name}")
    assert (Path(ref.path) if Path(ref.path).is_dir() else Path(ref.path).parent).joinpath(
        check).is_file()
