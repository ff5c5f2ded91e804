"""Compatibility proof: Megatron-Core 0.16.1 (CPU torch) reads our shards and our blend.

Megatron-Core is a test-only oracle (torch resolve); data prep never imports it.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nano3.data_prep import (
    DatasetSpec,
    FakeTokenizer,
    IndexedWriter,
    PretrainDataConfig,
    Tokenizer,
    prepare_pretrain,
)
from test_nano3_data.conftest import text_records, write_jsonl

pytest.importorskip("torch")
warnings.filterwarnings("ignore")
indexed_dataset = pytest.importorskip("megatron.core.datasets.indexed_dataset")

MakeCfg = Callable[..., PretrainDataConfig]


@pytest.mark.parametrize(("dtype", "vocab"), [
    pytest.param(np.uint16, 50257, id="uint16"),
    pytest.param(np.int32, 151_000, id="int32"),
])
def test_megatron_reads_every_token_of_our_writer(tmp_path: Path, dtype: type,
                                                  vocab: int) -> None:
    """Megatron's IndexedDataset returns exactly the tokens our writer wrote."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, vocab, rng.integers(1, 300)) for _ in range(500)]
    prefix = str(tmp_path / "ds")
    with IndexedWriter(prefix, dtype) as w:
        for i in range(0, len(docs), 64):
            chunk = docs[i:i + 64]
            w.add_batch(np.concatenate(chunk), np.array([len(d) for d in chunk]))
    ds = indexed_dataset.IndexedDataset(prefix)
    assert len(ds) == len(docs)
    assert ds.index.dtype == dtype
    for i, d in enumerate(docs):
        assert np.array_equal(ds[i], d.astype(dtype))
    assert list(ds.document_indices) == list(range(len(docs) + 1))


def test_our_bytes_equal_megatron_builder_bytes(tmp_path: Path) -> None:
    """Megatron's IndexedDatasetBuilder, fed per document, writes byte-identical files."""
    import torch

    rng = np.random.default_rng(1)
    docs = [rng.integers(0, 50257, rng.integers(1, 100)) for _ in range(200)]
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    with IndexedWriter(ours, np.uint16) as w:
        w.add_batch(np.concatenate(docs), np.array([len(d) for d in docs]))
    builder = indexed_dataset.IndexedDatasetBuilder(theirs + ".bin", dtype=np.uint16)
    for d in docs:
        builder.add_item(torch.IntTensor(d.astype(np.int32)))
        builder.end_document()
    builder.finalize(theirs + ".idx")
    for ext in (".bin", ".idx"):
        assert Path(ours + ext).read_bytes() == Path(theirs + ext).read_bytes()


class _Tok:
    """The two attributes GPTDataset needs from a tokenizer."""

    def __init__(self, vocab_size: int, eod: int) -> None:
        self.vocab_size = vocab_size
        self.eod = eod
        self.pad = -1  # no collision with EOD (Megatron warns otherwise)
        self.unique_identifiers: dict[str, Any] = {"class": "test"}


def test_blended_gpt_builder_accepts_our_per_split_blend(
        tmp_path: Path, make_pretrain: MakeCfg, gpt2_tiktoken: Tokenizer) -> None:
    """Megatron's own blend parser + BlendedMegatronDatasetBuilder build all three splits."""
    from megatron.core.datasets.blended_megatron_dataset_builder import (
        BlendedMegatronDatasetBuilder,
    )
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.utils import get_blend_from_list

    a = write_jsonl(tmp_path / "a.jsonl", text_records(600, seed=1))
    b = write_jsonl(tmp_path / "b.jsonl", text_records(300, seed=2))
    cfg = make_pretrain([DatasetSpec(name="a", path=str(a), weight=2.0, split="80,10,10"),
                         DatasetSpec(name="b", path=str(b), weight=1.0, split="80,10,10")],
                        shard_bytes=16384)
    art = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    blend = json.loads(Path(str(art.blend_path)).read_text())
    per_split = [get_blend_from_list(blend[s]) for s in ("train", "valid", "test")]
    assert all(p is not None and len(p[0]) >= 2 for p in per_split)
    config = GPTDatasetConfig(
        random_seed=1234, sequence_length=64, blend_per_split=per_split,
        tokenizer=_Tok(gpt2_tiktoken.vocab_size, gpt2_tiktoken.eod_id),
        reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
        path_to_cache=None, mid_level_dataset_surplus=0.05)  # a cache needs torch.distributed
    train, valid, test = BlendedMegatronDatasetBuilder(
        GPTDataset, [200, 20, 20], lambda: True, config).build()
    for ds in (train, valid, test):
        assert ds is not None and len(ds) >= 20
        sample = ds[0]
        assert sample["tokens"].shape[0] == 64
        assert int(sample["tokens"].max()) < gpt2_tiktoken.vocab_size


def test_fake_tokenizer_shards_are_readable_too(tmp_path: Path,
                                                make_pretrain: MakeCfg) -> None:
    """Shards from a whole prepare run read back through Megatron with EOD at the end."""
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "abc"}, {"text": "de"}])
    art = prepare_pretrain(make_pretrain([DatasetSpec(name="a", path=str(path),
                                                      split="train")]),
                           tokenizer=FakeTokenizer())
    assert art is not None
    prefix = json.loads(Path(str(art.blend_path)).read_text())["train"][1]
    ds = indexed_dataset.IndexedDataset(prefix)
    assert [ds[i].tolist() for i in range(len(ds))] == [[98, 99, 100, 0], [101, 102, 0]]
