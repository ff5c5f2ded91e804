"""RL data prep: every shard kept, per-split JSONL, manifest, bad records."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nano3.data_prep import DatasetSpec, ErrorPolicy, InputRecordError, RLDataConfig, prepare_rl
from test_nano3_data.conftest import write_jsonl

MakeCfg = Callable[..., RLDataConfig]


def _tasks(n: int) -> list[dict[str, object]]:
    return [{"prompt": f"{i}+7=", "answer": str(i + 7), "id": i} for i in range(n)]


def test_manifest_lists_every_shard_and_keeps_every_record(tmp_path: Path,
                                                           make_rl: MakeCfg) -> None:
    """With many shards per split, all records reach the split files (none dropped)."""
    path = write_jsonl(tmp_path / "rl.jsonl", _tasks(500))
    art = prepare_rl(make_rl([DatasetSpec(name="t", path=str(path), split="80,10,10")],
                             shard_bytes=1024))
    assert art is not None
    manifest = json.loads(Path(art.path).read_text())
    assert list(manifest)[:3] == ["train", "val", "test"]
    assert len(manifest["shards"]["train"]) > 3
    seen = []
    for key in ("train", "val", "test"):
        assert manifest[key] == getattr(art, key)
        lines = Path(manifest[key]).read_text().splitlines()
        from_shards = [ln for p in manifest["shards"][key]
                       for ln in Path(p).read_text().splitlines()]
        assert lines == from_shards
        seen += [json.loads(ln)["id"] for ln in lines]
    assert sorted(seen) == list(range(500))
    assert art.total_sequences == 500 == sum(manifest["counts"].values())
    assert manifest["run_hash"] == art.metadata["run_hash"]


def test_records_are_normalised_and_extra_fields_kept(tmp_path: Path,
                                                      make_rl: MakeCfg) -> None:
    """Custom field names map to prompt/answer; other fields survive; keys sorted."""
    path = write_jsonl(tmp_path / "rl.jsonl", [{"q": "1+1=", "a": "2", "level": 1}])
    art = prepare_rl(make_rl([DatasetSpec(name="t", path=str(path), split="train")],
                             prompt_field="q", answer_field="a"))
    assert art is not None and art.train is not None
    assert Path(art.train).read_text() == '{"answer":"2","level":1,"prompt":"1+1="}\n'
    assert art.val is None and art.test is None
    assert json.loads(Path(art.path).read_text())["val"] == ""


@pytest.mark.parametrize(("record", "reason"), [
    pytest.param({"prompt": "1+1="}, "missing_field", id="missing-answer"),
    pytest.param({"prompt": "1+1=", "answer": 2}, "bad_field_type", id="answer-not-a-string"),
    pytest.param({"prompt": "  ", "answer": "2"}, "bad_field_type", id="blank-prompt"),
])
def test_bad_rl_records(tmp_path: Path, make_rl: MakeCfg, record: dict[str, object],
                        reason: str) -> None:
    """Bad records fail with file:line, or are skipped and counted under skip."""
    path = write_jsonl(tmp_path / "rl.jsonl", [*_tasks(2), record])
    ds = [DatasetSpec(name="t", path=str(path))]
    with pytest.raises(InputRecordError) as info:
        prepare_rl(make_rl(ds))
    assert (info.value.line, info.value.reason) == (3, reason)
    art = prepare_rl(make_rl(ds, errors=ErrorPolicy(policy="skip")))
    assert art is not None
    assert art.total_sequences == 2 and art.metadata["skipped"] == {reason: 1}


def test_parquet_input(tmp_path: Path, make_rl: MakeCfg) -> None:
    """Parquet inputs stream by row group; a missing column is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _tasks(100)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rl.parquet", row_group_size=10)
    art = prepare_rl(make_rl([DatasetSpec(name="t", path=str(tmp_path / "rl.parquet"))],
                             shard_bytes=200))
    assert art is not None and art.total_sequences == 100
    pq.write_table(pa.Table.from_pylist([{"prompt": "x"}]), tmp_path / "bad.parquet")
    with pytest.raises(InputRecordError, match="no column 'answer'"):
        prepare_rl(make_rl([DatasetSpec(name="t", path=str(tmp_path / "bad.parquet"))]))
