"""The typed artifact classes of FORMATS.md section 1 and `InputDatasetInfo`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

from kit_artifacts._artifacts import Artifact

__all__ = [
    "InputDatasetInfo",
    "ModelArtifact",
    "PretrainBlendsArtifact",
    "SFTDataArtifact",
    "SplitJsonlDataArtifact",
]


@attrs.define(kw_only=True)
class InputDatasetInfo:
    """A source dataset that went into a data artifact (inside `source_datasets`)."""

    uri: str
    name: str | None = None
    weight: float = 1.0
    split: str | None = None
    subset: str | None = None
    text_field: str | None = None
    num_rows: int | None = None
    size_bytes: int | None = None
    num_files: int | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form, keys in declaration order."""
        return attrs.asdict(self)


@attrs.define(kw_only=True, slots=False, init=False)
class ModelArtifact(Artifact):
    """A model checkpoint (path = checkpoint directory).

    `loss=` is the earlier kit's name for `final_loss` (its overview writes
    `ModelArtifact(path=..., step=10000, loss=2.5)`): accepted in the constructor, stored
    once as `final_loss` (FORMATS.md), and readable as either attribute.
    """

    path_kind: ClassVar[Literal["dir", "file", "auto"]] = "dir"
    _min_values: ClassVar[Mapping[str, float]] = {"step": 0}
    _aliases: ClassVar[Mapping[str, str]] = {"loss": "final_loss"}

    step: int
    final_loss: float | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.__attrs_init__(**self._apply_aliases(kwargs))

    @property
    def loss(self) -> float | None:
        """The earlier kit's name for `final_loss`."""
        return self.final_loss

    @loss.setter
    def loss(self, value: float | None) -> None:
        self.final_loss = value


_DATA_MIN = {
    "total_tokens": 0,
    "total_sequences": 0,
    "elapsed_sec": 0,
    "num_shards": 0,
    "train_tokens": 0,
    "valid_tokens": 0,
    "test_tokens": 0,
    "pack_size": 1,
}


@attrs.define(kw_only=True, slots=False)
class PretrainBlendsArtifact(Artifact):
    """Tokenized pretraining data (path = output directory holding `blend.json` and shards)."""

    path_kind: ClassVar[Literal["dir", "file", "auto"]] = "dir"
    _min_values: ClassVar[Mapping[str, float]] = _DATA_MIN

    total_tokens: int
    total_sequences: int
    elapsed_sec: float = 0.0
    num_shards: int | None = None
    blend_path: str | None = None
    train_tokens: int | None = None
    valid_tokens: int | None = None
    test_tokens: int | None = None
    source_datasets: list[InputDatasetInfo | str] = attrs.field(factory=list)
    tokenizer_uri: str | None = None


@attrs.define(kw_only=True, slots=False)
class SFTDataArtifact(Artifact):
    """Packed SFT data in Parquet (path = output directory)."""

    path_kind: ClassVar[Literal["dir", "file", "auto"]] = "dir"
    _min_values: ClassVar[Mapping[str, float]] = _DATA_MIN

    total_tokens: int
    total_sequences: int
    elapsed_sec: float = 0.0
    pack_size: int | None = None
    blend_path: str | None = None
    num_shards: int | None = None
    data_format: str = "packed_sft_parquet"
    source_datasets: list[InputDatasetInfo | str] = attrs.field(factory=list)
    tokenizer_uri: str | None = None
    training_path: str | None = None
    validation_path: str | None = None
    test_path: str | None = None
    metadata_path: str | None = None


@attrs.define(kw_only=True, slots=False)
class SplitJsonlDataArtifact(Artifact):
    """RL JSONL data (path = the `manifest.json` file naming the per-split JSONL files)."""

    path_kind: ClassVar[Literal["dir", "file", "auto"]] = "file"
    _min_values: ClassVar[Mapping[str, float]] = _DATA_MIN

    total_sequences: int
    elapsed_sec: float = 0.0
    train: str | None = None
    val: str | None = None
    test: str | None = None
    source_datasets: list[InputDatasetInfo | str] = attrs.field(factory=list)
