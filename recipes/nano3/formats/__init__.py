"""nano3's on-disk data formats: indexed datasets, blend JSON, RL splits, SFT Parquet, tokenizers.

Data prep writes them and the training stages read them (FORMATS.md sections 2 to 5); this
package is the one implementation both sides import, and the one tokenizer module
(`_tokenizer`: one spec grammar for data prep and RL). It depends on numpy, the stdlib and
`kit_config.errors`; `tokenizers` and `tiktoken` load only when a tokenizer is built.
"""
from __future__ import annotations

from nano3.formats._blend import BLEND_FILENAME, Blend, BlendEntry, read_blend, write_blend
from nano3.formats._indexed import (
    DTYPE_CODES,
    IndexedReader,
    IndexedWriter,
    IndexFile,
    read_index,
)
from nano3.formats._rl_splits import (
    RL_MANIFEST_FILENAME,
    RL_SPLITS,
    RLExample,
    encode_rl_record,
    read_rl_splits,
    write_rl_splits,
)
from nano3.formats._sft_parquet import (
    SFT_SPLIT_FILES,
    PackedRows,
    concat_packed_parquet,
    read_packed_rows,
    write_packed_parquet,
)
from nano3.formats._tokenizer import (
    FakeTokenizer,
    Tokenizer,
    TokenizerSpec,
    load_tokenizer,
    token_dtype,
)
from nano3.formats.errors import FormatError, TokenizerError

__all__ = ["BLEND_FILENAME", "Blend", "BlendEntry", "DTYPE_CODES", "FakeTokenizer", "FormatError",
           "IndexFile", "IndexedReader", "IndexedWriter", "PackedRows", "RLExample",
           "RL_MANIFEST_FILENAME", "RL_SPLITS", "SFT_SPLIT_FILES", "Tokenizer", "TokenizerError",
           "TokenizerSpec", "concat_packed_parquet", "encode_rl_record", "load_tokenizer",
           "read_blend", "read_index", "read_packed_rows", "read_rl_splits", "token_dtype",
           "write_blend", "write_packed_parquet", "write_rl_splits"]
