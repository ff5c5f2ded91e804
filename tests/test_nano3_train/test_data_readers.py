"""Readers of the data-prep formats: bin/idx, blend JSON, packed SFT Parquet, RL manifest."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit_artifacts import PretrainBlendsArtifact, SFTDataArtifact, SplitJsonlDataArtifact
from nano3.formats import BlendEntry, read_blend
from nano3.formats._tokenizer import ByteTokenizer, load_tokenizer
from nano3.stages._data_paths import find_blend_file, load_blend
from nano3.stages._pretrain import check_shards
from nano3.stages._rl_data import clean_completion, exact_match, load_rl_splits, prefix_match
from nano3.stages._sft import PackedSFTDataset
from nano3.stages.errors import DataFormatError, TokenizerError

from .conftest import load_typed, make_sft_data, typed, write_indexed


def _corrupt(prefix: Path, how: str) -> None:
    idx = prefix.with_name(prefix.name + ".idx")
    raw = bytearray(idx.read_bytes())
    if how == "magic":
        raw[0:3] = b"XXX"
    elif how == "version":
        raw[9] = 7
    elif how == "dtype":
        raw[17] = 99
    elif how == "truncated":
        raw = raw[:30]
    elif how == "size":
        prefix.with_name(prefix.name + ".bin").write_bytes(b"\x00" * 3)
        return
    elif how == "missing":
        idx.unlink()
        return
    idx.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", [
    pytest.param("magic", id="bad-magic"), pytest.param("version", id="bad-version"),
    pytest.param("dtype", id="unknown-dtype"), pytest.param("truncated", id="truncated-index"),
    pytest.param("size", id="bin-size-mismatch"), pytest.param("missing", id="missing-idx"),
])
def test_broken_indexed_dataset_is_rejected(tmp_path: Path, how: str) -> None:
    """A damaged shard in a blend raises DataFormatError naming the file."""
    prefix = tmp_path / "shard"
    write_indexed(prefix, [[1, 2, 3], [4, 5]])
    _corrupt(prefix, how)
    with pytest.raises(DataFormatError) as info:
        check_shards({"train": [BlendEntry(1.0, str(prefix))], "valid": None}, 2)
    assert str(tmp_path) in str(info.value)


def test_blend_forms(tmp_path: Path) -> None:
    """The flat form, the nested legacy form, and the single-blend legacy form all parse."""
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"train": ["2.0", "/a", "1.0", "/b"], "valid": None,
                                "test": None}))
    assert read_blend(flat)["train"] == [BlendEntry(2.0, "/a"), BlendEntry(1.0, "/b")]
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"train": [["1.0", "/a"]], "valid": [], "test": None}))
    assert read_blend(nested)["train"] == [BlendEntry(1.0, "/a")]
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"data_paths": ["1", "rel"], "split": "99,1,0"}))
    assert read_blend(legacy)["train"] == [BlendEntry(1.0, str(tmp_path / "rel"))]


@pytest.mark.parametrize("body", [
    pytest.param("not json", id="not-json"),
    pytest.param(json.dumps([1, 2]), id="not-an-object"),
    pytest.param(json.dumps({"train": ["1.0", "/a"]}), id="missing-splits"),
    pytest.param(json.dumps({"train": ["-1", "/a"], "valid": None, "test": None}),
                 id="negative-weight"),
    pytest.param(json.dumps({"train": ["x", "/a"], "valid": None, "test": None}),
                 id="weight-not-number"),
    pytest.param(json.dumps({"train": "/a", "valid": None, "test": None}), id="split-not-list"),
    pytest.param(json.dumps({"train": ["1.0", "/a", 3], "valid": None, "test": None}),
                 id="odd-flat-list"),
])
def test_bad_blend_is_rejected(tmp_path: Path, body: str) -> None:
    """A malformed blend raises DataFormatError naming the blend file."""
    f = tmp_path / "blend.json"
    f.write_text(body)
    with pytest.raises(DataFormatError) as info:
        load_blend(typed(PretrainBlendsArtifact, f))
    assert str(f) in str(info.value)


def test_find_blend_file_errors(tmp_path: Path) -> None:
    """A missing data path, or a directory without blend.json, is a clear error."""
    with pytest.raises(DataFormatError, match="no such file"):
        find_blend_file(typed(PretrainBlendsArtifact, tmp_path / "nope"))
    with pytest.raises(DataFormatError, match="no blend.json"):
        find_blend_file(typed(PretrainBlendsArtifact, tmp_path))


def test_blend_with_a_tiny_train_shard_is_rejected(tmp_path: Path) -> None:
    """A train shard shorter than one sample names the shard and says to lower seq_length."""
    write_indexed(tmp_path / "s", [[1, 2, 3]])
    with pytest.raises(DataFormatError, match="lower model.seq_length") as info:
        check_shards({"train": [BlendEntry(1.0, str(tmp_path / "s"))]}, 16)
    assert str(tmp_path / "s") in str(info.value)
    check_shards({"train": [BlendEntry(1.0, str(tmp_path / "s"))]}, 2)


@pytest.mark.parametrize("how", [
    pytest.param("missing-column", id="missing-column"),
    pytest.param("length-mismatch", id="mask-length-mismatch"),
    pytest.param("not-parquet", id="not-parquet"),
])
def test_bad_sft_parquet_is_rejected(tmp_path: Path, how: str) -> None:
    """Malformed packed Parquet raises DataFormatError naming the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "train.parquet"
    if how == "missing-column":
        pq.write_table(pa.table({"input_ids": [[1, 2]], "loss_mask": [[0, 1]]}), f)
    elif how == "length-mismatch":
        pq.write_table(pa.table({"input_ids": [[1, 2, 3]], "loss_mask": [[0, 1]],
                                 "seq_start_id": [[0]]}), f)
    else:
        f.write_text("hello")
    with pytest.raises(DataFormatError) as info:
        PackedSFTDataset([str(f)], seq_length=64, seed=0)
    assert str(f) in str(info.value)


def test_sft_blend_discovery_errors(tmp_path: Path) -> None:
    """No data, or a folder without blend.json, is reported clearly."""
    with pytest.raises(DataFormatError, match="no such file"):
        find_blend_file(typed(SFTDataArtifact, tmp_path / "nope"))
    with pytest.raises(DataFormatError, match="no blend.json"):
        find_blend_file(typed(SFTDataArtifact, tmp_path))
    root = make_sft_data(tmp_path / "d")
    assert find_blend_file(load_typed(SFTDataArtifact, root)) == root / "blend.json"


def test_rl_splits_come_from_the_typed_artifact(rl_manifest: Path) -> None:
    """The artifact's train/val files are read; a split it does not name is empty."""
    splits = load_rl_splits(load_typed(SplitJsonlDataArtifact, rl_manifest))
    assert len(splits["train"]) == 200
    assert len(splits["val"]) == 32
    assert splits["test"] == []


@pytest.mark.parametrize(("splits", "line", "match"), [
    pytest.param({"val": ""}, None, "no `train`", id="no-train-split"),
    pytest.param({"train": "/nope.jsonl"}, None, "missing", id="missing-shard"),
    pytest.param({"train": "t.jsonl"}, "{bad json", "not JSON", id="bad-json-line"),
    pytest.param({"train": "t.jsonl"}, json.dumps({"answer": "1"}), "prompt",
                 id="record-without-prompt"),
    pytest.param({"train": "t.jsonl"}, "", "no records", id="empty-train"),
])
def test_bad_rl_data_is_rejected(tmp_path: Path, splits: dict[str, str], line: str | None,
                                 match: str) -> None:
    """Malformed RL data raises DataFormatError with file (and line) context."""
    if line is not None:
        (tmp_path / "t.jsonl").write_text(line + "\n")
    data = SplitJsonlDataArtifact(path=str(tmp_path / "manifest.json"), total_sequences=0,
                                  train=splits.get("train"), val=splits.get("val"))
    with pytest.raises(DataFormatError, match=match):
        load_rl_splits(data)


def test_rewards() -> None:
    """Exact match is all-or-nothing; prefix match gives capped partial credit."""
    assert exact_match(clean_completion(" 19\nmore"), "19") == 1.0
    assert exact_match(clean_completion("19<|im_end|>", ["<|im_end|>"]), "19") == 1.0
    assert exact_match("18", "19") == 0.0
    assert prefix_match("19", "19") == 1.0
    assert prefix_match("1", "19") == 0.25
    assert prefix_match("x", "19") == 0.0
    assert prefix_match("1999", "19") == 0.25  # running on past the answer costs credit


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_byte_tokenizer_round_trip(text: str) -> None:
    """The byte tokenizer decodes what it encodes."""
    tok = ByteTokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_gpt2_tokenizer_offline_and_bad_spec(tmp_path: Path) -> None:
    """`gpt2` loads offline from the packaged files; an unknown spec is a TokenizerError."""
    tok = load_tokenizer("gpt2")
    assert tok.vocab_size == 50257 and tok.eod_id == 50256
    assert tok.decode(tok.encode("12+7=19")) == "12+7=19"
    with pytest.raises(TokenizerError):
        load_tokenizer(str(tmp_path / "missing.json"))
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    with pytest.raises(TokenizerError):
        load_tokenizer(str(bad))
