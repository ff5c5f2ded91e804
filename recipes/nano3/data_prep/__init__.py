"""nano3 data prep: pretrain (Megatron bin/idx + blend), SFT (packed Parquet), RL (JSONL).

Stage jobs run as `python -m nano3.data_prep.{pretrain,sft,rl} --config FILE`; the
heavy work is in plain functions (`prepare_pretrain`, `prepare_sft`, `prepare_rl`) that
return the typed artifact (unsaved) on the merging rank and None on the others.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nano3.data_prep._config import (
    ChatTemplate,
    DatasetSpec,
    ErrorPolicy,
    ParallelSpec,
    PretrainDataConfig,
    RLDataConfig,
    SampleSpec,
    SFTDataConfig,
)
from nano3.data_prep._packing import pack_ffd, pack_ffd_reference
from nano3.data_prep._runner import resolve_rank
from nano3.data_prep._stage import published_name
from nano3.data_prep.errors import (
    DataPrepError,
    EmptyInputError,
    InputNotFoundError,
    InputRecordError,
    MergeTimeoutError,
    TokenizerError,
)
from nano3.formats import (
    FakeTokenizer,
    IndexedReader,
    IndexedWriter,
    Tokenizer,
    TokenizerSpec,
    load_tokenizer,
    read_blend,
    write_blend,
)

if TYPE_CHECKING:
    from nano3.data_prep.pretrain import prepare_pretrain
    from nano3.data_prep.rl import prepare_rl
    from nano3.data_prep.sft import prepare_sft

__all__ = [
    "ChatTemplate",
    "DataPrepError",
    "DatasetSpec",
    "EmptyInputError",
    "ErrorPolicy",
    "FakeTokenizer",
    "IndexedReader",
    "IndexedWriter",
    "InputNotFoundError",
    "InputRecordError",
    "MergeTimeoutError",
    "ParallelSpec",
    "PretrainDataConfig",
    "RLDataConfig",
    "SFTDataConfig",
    "SampleSpec",
    "Tokenizer",
    "TokenizerError",
    "TokenizerSpec",
    "load_tokenizer",
    "pack_ffd",
    "pack_ffd_reference",
    "prepare_pretrain",
    "prepare_rl",
    "prepare_sft",
    "published_name",
    "read_blend",
    "resolve_rank",
    "write_blend",
]

# The stage modules load lazily: `python -m nano3.data_prep.rl` must not find its own module
# already imported by this package (runpy warns, and the module would run twice).
_LAZY = {"prepare_pretrain": "pretrain", "prepare_rl": "rl", "prepare_sft": "sft"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"nano3.data_prep.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nano3.data_prep' has no attribute {name!r}")
