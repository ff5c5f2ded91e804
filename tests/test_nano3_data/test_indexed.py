"""Megatron bin/idx (`nano3.formats`): exact bytes, round trips, atomicity, bad dtypes."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nano3.formats import FormatError, IndexedReader, IndexedWriter, read_index, token_dtype


def test_writer_bytes_match_the_format_byte_for_byte(tmp_path: Path) -> None:
    """Two documents [5,6,7] and [8] in uint16 give exactly the documented .bin/.idx bytes."""
    prefix = tmp_path / "doc"
    with IndexedWriter(prefix, np.uint16) as w:
        w.add_batch(np.array([5, 6, 7, 8]), np.array([3, 1]))
    assert (tmp_path / "doc.bin").read_bytes() == struct.pack("<4H", 5, 6, 7, 8)
    expected = (b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", 8)
                + struct.pack("<Q", 2) + struct.pack("<Q", 3)
                + struct.pack("<2i", 3, 1) + struct.pack("<2q", 0, 6)
                + struct.pack("<3q", 0, 1, 2))
    assert (tmp_path / "doc.idx").read_bytes() == expected


def test_int32_pointers_scale_with_itemsize(tmp_path: Path) -> None:
    """int32 tokens: dtype code 4 and byte pointers of 4 bytes per token."""
    prefix = tmp_path / "big"
    with IndexedWriter(prefix, np.int32) as w:
        w.add_batch(np.array([70000, 1, 2]), np.array([1, 2]))
    idx = read_index(prefix)
    assert idx.dtype == np.int32
    assert idx.pointers.tolist() == [0, 4]


@pytest.mark.parametrize(("vocab", "dtype"), [
    pytest.param(50257, np.uint16, id="gpt2-uint16"),
    pytest.param(65499, np.uint16, id="just-below-65500"),
    pytest.param(65500, np.int32, id="at-65500-int32"),
    pytest.param(151000, np.int32, id="qwen-size-int32"),
])
def test_dtype_rule(vocab: int, dtype: type) -> None:
    """uint16 below 65,500 ids, else int32 (Megatron's rule)."""
    assert token_dtype(vocab) is dtype


@settings(max_examples=40, deadline=None)
@given(docs=st.lists(st.lists(st.integers(0, 65499), min_size=1, max_size=50), max_size=30),
       batch=st.integers(1, 7), dtype=st.sampled_from([np.uint16, np.int32]))
def test_roundtrip_any_documents_any_batching(tmp_path_factory: pytest.TempPathFactory,
                                              docs: list[list[int]], batch: int,
                                              dtype: type) -> None:
    """Whatever the batching and dtype, the reader returns every document and the stream."""
    prefix = tmp_path_factory.mktemp("rt") / "ds"
    with IndexedWriter(prefix, dtype) as w:
        for i in range(0, len(docs), batch):
            chunk = docs[i:i + batch]
            flat = np.array([t for d in chunk for t in d], dtype=np.int64)
            w.add_batch(flat, np.array([len(d) for d in chunk]))
    assert read_index(prefix).doc_idx.tolist() == list(range(len(docs) + 1))
    r = IndexedReader(prefix)
    assert [r[i].tolist() for i in range(len(r))] == docs
    stream = [t for d in docs for t in d]
    assert r.num_tokens == len(stream)
    assert r.window(0, len(stream)).tolist() == stream


def test_failed_write_leaves_no_final_files(tmp_path: Path) -> None:
    """An exception inside the writer removes temp files and never creates .bin/.idx."""
    prefix = tmp_path / "half"
    with pytest.raises(RuntimeError), IndexedWriter(prefix, np.uint16) as w:
        w.add_batch(np.array([1, 2]), np.array([2]))
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_writer_rejects_a_dtype_megatron_has_no_code_for(tmp_path: Path) -> None:
    """A token dtype outside Megatron's table is a FormatError before any file is opened."""
    with pytest.raises(FormatError, match="no Megatron dtype code"):
        IndexedWriter(tmp_path / "x", np.uint32)
    assert list(tmp_path.iterdir()) == []
