"""SFT through Megatron-Core from packed Parquet, starting from the pretrain checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from nano3.mcore import PackedSFTDataset, SFTDataError
from test_nano3_mcore.conftest import make_sft_blend, run_spec, train


def _one_row(tmp_path: Path, ids: list[int], mask: list[int], starts: list[int]) -> str:
    f = tmp_path / "one.parquet"
    pq.write_table(pa.table({"input_ids": pa.array([ids], pa.list_(pa.int32())),
                             "loss_mask": pa.array([mask], pa.list_(pa.uint8())),
                             "seq_start_id": pa.array([starts], pa.list_(pa.int32()))}), f)
    return str(f)


def test_packed_row_restarts_positions_and_attention(tmp_path: Path) -> None:
    """Two conversations [10 11 12] [20 21] in one bin, padded to 6: labels shift by one,
    loss only on masked (assistant) labels and never across the boundary, positions restart,
    and no token attends to the other conversation or to padding."""
    ds = PackedSFTDataset([_one_row(tmp_path, [10, 11, 12, 20, 21], [0, 1, 1, 1, 1],
                                    [0, 3])], seq_length=6, seed=0)
    item = ds[0]
    assert item["tokens"].tolist() == [10, 11, 12, 20, 0, 0]
    assert item["labels"].tolist() == [11, 12, 20, 21, 0, 0]
    # Label 20 carries a mask bit but starts conversation 2: no loss there.
    assert item["loss_mask"].tolist() == [1, 1, 0, 1, 0, 0]
    assert item["position_ids"].tolist() == [0, 1, 2, 0, 0, 1]
    allowed = ~item["attention_mask"][0]
    assert allowed[2].tolist() == [True, True, True, False, False, False]
    assert allowed[3].tolist() == [False, False, False, True, False, False]
    assert not allowed[3, 2] and not allowed[4, 3]  # padding sees no conversation token
    assert torch.equal(allowed, allowed.tril())


@pytest.mark.parametrize(("ids", "mask", "match"), [
    ([1, 2, 3], [0, 1], "3 tokens \\(2 mask bits\\)"),
    (list(range(9)), [1] * 9, "does not fit seq_length=6"),
], ids=["mask-length-differs", "row-longer-than-model"])
def test_bad_rows_are_refused(tmp_path: Path, ids: list[int], mask: list[int],
                              match: str) -> None:
    with pytest.raises(SFTDataError, match=match):
        PackedSFTDataset([_one_row(tmp_path, ids, mask, [0])], seq_length=6, seed=0)


def test_sft_from_pretrain_checkpoint_lowers_assistant_loss(straight_run: Path,
                                                            tmp_path: Path) -> None:
    """SFT starts from the pretrained weights (its first eval equals no fresh model's) and its
    held-out assistant-token loss falls."""
    pretrained = json.loads((straight_run / "result.json").read_text())["checkpoint"]
    spec = run_spec(tmp_path / "sft", make_sft_blend(tmp_path / "sft-data"), max_steps=15,
                    checkpoint_every=15, micro_batch_size=4)
    spec["pretrained"] = pretrained
    result = train(spec)
    assert result["completed"] and result["step"] == 15
    assert result["final_loss"] < result["metadata"]["initial_loss"] - 0.5
    # A fresh 257-way model starts near ln(257) = 5.55; the pretrained one already knows
    # bytes, so SFT's first eval is well below that.
    assert result["metadata"]["initial_loss"] < 5.0
    assert (tmp_path / "sft/checkpoints/iter_0000015/model_config.json").is_file()
