"""nano3's on-disk data formats: Megatron indexed datasets and the per-split blend JSON.

Data prep writes them and the training stages read them (FORMATS.md sections 2 and 3); this
package is the one implementation both sides import. It depends on numpy, the stdlib and
`kit_config.errors` only, so that importing it adds nothing to a training job's PEX.
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
from nano3.formats.errors import FormatError

__all__ = [
    "BLEND_FILENAME",
    "Blend",
    "BlendEntry",
    "DTYPE_CODES",
    "FormatError",
    "IndexFile",
    "IndexedReader",
    "IndexedWriter",
    "read_blend",
    "read_index",
    "write_blend",
]
