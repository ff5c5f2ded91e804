"""SFT data prep: template, loss mask, packing (same bins as plain first fit), Parquet."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nano3.data_prep import (
    DatasetSpec,
    ErrorPolicy,
    InputRecordError,
    ParallelSpec,
    SFTDataConfig,
    Tokenizer,
    pack_ffd,
    pack_ffd_reference,
    prepare_sft,
)
from test_nano3_data.conftest import write_jsonl

MakeCfg = Callable[..., SFTDataConfig]


def _chat(user: str, answer: str, system: str | None = None) -> dict[str, object]:
    msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    if system:
        msgs.insert(0, {"role": "system", "content": system})
    return {"messages": msgs}


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 64), max_size=300), cap=st.integers(64, 200),
       seed=st.integers(0, 2**31))
def test_pack_ffd_matches_plain_first_fit(lengths: list[int], cap: int, seed: int) -> None:
    """The fast packer gives exactly the bins of the plain first-fit loop, same order."""
    assert [b.tolist() for b in pack_ffd(lengths, cap, seed)] == pack_ffd_reference(
        lengths, cap, seed)


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(1, 100), min_size=1, max_size=200),
       seed=st.integers(0, 1000))
def test_pack_ffd_is_a_partition_within_capacity(lengths: list[int], seed: int) -> None:
    """Every sequence is in exactly one bin and no bin exceeds the capacity."""
    bins = pack_ffd(lengths, 100, seed)
    assert sorted(i for b in bins for i in b.tolist()) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 100 for b in bins)


@pytest.mark.parametrize(("lengths", "cap"), [
    pytest.param([5, 0], 10, id="zero-length"),
    pytest.param([11], 10, id="longer-than-capacity"),
    pytest.param([1], 0, id="zero-capacity"),
])
def test_pack_rejects_bad_lengths(lengths: list[int], cap: int) -> None:
    """Lengths outside [1, capacity] are a ValueError, never a silent bad bin."""
    with pytest.raises(ValueError):
        pack_ffd(lengths, cap, 0)


def test_loss_mask_covers_exactly_assistant_turns(tmp_path: Path, make_sft: MakeCfg,
                                                  gpt2_tiktoken: Tokenizer) -> None:
    """Masked tokens decode to the assistant content + turn end + EOD, nothing else."""
    import pyarrow.parquet as pq

    path = write_jsonl(tmp_path / "c.jsonl", [_chat("2+2=", "4", system="Be brief.")])
    cfg = make_sft([DatasetSpec(name="c", path=str(path), split="train",
                                text_field="messages")])
    art = prepare_sft(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None and art.training_path is not None
    table = pq.read_table(art.training_path)
    assert table.schema.names == ["input_ids", "loss_mask", "seq_start_id"]
    import pyarrow as pa

    for col, value in (("input_ids", pa.int32()), ("loss_mask", pa.uint8()),
                       ("seq_start_id", pa.int32())):
        typ = table.schema.field(col).type
        assert pa.types.is_list(typ) and typ.value_type == value, col
    ids = np.asarray(table.column("input_ids")[0].as_py())
    mask = np.asarray(table.column("loss_mask")[0].as_py(), dtype=bool)
    enc = gpt2_tiktoken._enc  # type: ignore[attr-defined]
    text = enc.decode(ids[:-1].tolist())
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2="
                    "<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n")
    assert enc.decode(ids[mask][:-1].tolist()) == "4<|im_end|>\n"
    assert ids[-1] == 50256 and mask[-1]
    assert table.column("seq_start_id")[0].as_py() == [0]


def test_packed_rows_respect_pack_size_and_keep_every_sequence(
        tmp_path: Path, make_sft: MakeCfg, gpt2_tiktoken: Tokenizer) -> None:
    """Rows hold at most pack_size tokens; seq_start_id marks each sequence; counts match."""
    import pyarrow.parquet as pq

    chats = [_chat(f"{i}+{i}=", str(2 * i), system="s" * (i % 7)) for i in range(300)]
    path = write_jsonl(tmp_path / "c.jsonl", chats)
    cfg = make_sft([DatasetSpec(name="c", path=str(path), text_field="messages",
                                split="80,10,10")], pack_size=96)
    art = prepare_sft(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    n_seq = 0
    for p in (art.training_path, art.validation_path, art.test_path):
        assert p is not None
        t = pq.read_table(p).to_pylist()
        for row in t:
            assert len(row["input_ids"]) <= 96 == art.pack_size
            assert len(row["loss_mask"]) == len(row["input_ids"])
            assert row["seq_start_id"][0] == 0 and row["seq_start_id"] == sorted(
                row["seq_start_id"])
            n_seq += len(row["seq_start_id"])
    assert n_seq == art.total_sequences == 300
    assert art.data_format == "packed_sft_parquet"


def test_sft_output_is_byte_identical_across_worker_counts(
        tmp_path: Path, make_sft: MakeCfg, gpt2_tiktoken: Tokenizer) -> None:
    """Same inputs, 1 vs 2 workers: identical Parquet bytes."""
    path = write_jsonl(tmp_path / "c.jsonl", [_chat(f"q{i}", f"a{i}" * (i % 5 + 1))
                                              for i in range(400)])
    ds = [DatasetSpec(name="c", path=str(path), text_field="messages")]
    a = prepare_sft(make_sft(ds, output_dir=str(tmp_path / "a")), tokenizer=gpt2_tiktoken)
    b = prepare_sft(make_sft(ds, output_dir=str(tmp_path / "b"),
                             parallel=ParallelSpec(num_workers=2, progress=False)),
                    tokenizer=gpt2_tiktoken)
    assert a is not None and b is not None and a.training_path and b.training_path
    assert Path(a.training_path).read_bytes() == Path(b.training_path).read_bytes()


@pytest.mark.parametrize(("overlong", "expected_seqs", "reason"), [
    pytest.param("truncate", 2, "overlong_truncated", id="truncate"),
    pytest.param("drop", 1, "overlong_dropped", id="drop"),
])
def test_overlong_policy(tmp_path: Path, make_sft: MakeCfg, gpt2_tiktoken: Tokenizer,
                         overlong: str, expected_seqs: int, reason: str) -> None:
    """Sequences over pack_size are truncated or dropped, and counted."""
    path = write_jsonl(tmp_path / "c.jsonl", [_chat("hi", "ok"),
                                              _chat("long", "word " * 200)])
    cfg = make_sft([DatasetSpec(name="c", path=str(path), split="train",
                                text_field="messages")], pack_size=64,
                   overlong=overlong)
    art = prepare_sft(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    assert art.total_sequences == expected_seqs
    assert art.metadata["skipped"] == {reason: 1}


@pytest.mark.parametrize(("record", "reason"), [
    pytest.param({"messages": []}, "bad_messages", id="empty-messages"),
    pytest.param({"messages": "hello"}, "bad_messages", id="messages-not-a-list"),
    pytest.param({"messages": [{"role": "robot", "content": "x"}]}, "bad_messages",
                 id="unknown-role"),
    pytest.param({"messages": [{"role": "user", "content": 3}]}, "bad_messages",
                 id="content-not-a-string"),
    pytest.param({"messages": [{"role": "user", "content": "q"}]}, "no_assistant_turn",
                 id="no-assistant-turn"),
    pytest.param({"text": "plain"}, "missing_field", id="missing-messages-field"),
])
def test_bad_chat_records(tmp_path: Path, make_sft: MakeCfg, gpt2_tiktoken: Tokenizer,
                          record: dict[str, object], reason: str) -> None:
    """Malformed chats: fail with file and line, or skip and count under skip."""
    path = write_jsonl(tmp_path / "c.jsonl", [_chat("a", "b"), record])
    ds = [DatasetSpec(name="c", path=str(path), text_field="messages")]
    with pytest.raises(InputRecordError) as info:
        prepare_sft(make_sft(ds), tokenizer=gpt2_tiktoken)
    assert (info.value.line, info.value.reason) == (2, reason)
    art = prepare_sft(make_sft(ds, errors=ErrorPolicy(policy="skip")),
                      tokenizer=gpt2_tiktoken)
    assert art is not None and art.metadata["skipped"] == {reason: 1}
