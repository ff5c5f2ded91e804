"""Blend JSON (`nano3.formats`), split specs, rank resolution, configs and tokenizers."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nano3.data_prep import (
    PretrainDataConfig,
    RLDataConfig,
    SFTDataConfig,
    Tokenizer,
    TokenizerSpec,
    load_tokenizer,
    resolve_rank,
)
from nano3.data_prep._config import parse_split
from nano3.data_prep._inputs import CORPUS_DIR
from nano3.formats import BlendEntry, FormatError, read_blend, write_blend

# The shipped configs are resources of the recipe (recipes/nano3:configs), found next to it.
CONFIG_DIR = CORPUS_DIR.parent / "config" / "data_prep"

_prefix = st.text(alphabet="abcdefghij_/0123456789", min_size=1, max_size=30).map(
    lambda s: "/data/" + s)
_weight = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
_split = st.one_of(st.none(), st.lists(st.tuples(_weight, _prefix), min_size=1, max_size=6))


@settings(max_examples=80, deadline=None)
@given(train=_split, valid=_split, test=_split)
def test_blend_round_trip(tmp_path_factory: pytest.TempPathFactory,
                          train: list[tuple[float, str]] | None,
                          valid: list[tuple[float, str]] | None,
                          test: list[tuple[float, str]] | None) -> None:
    """write_blend then read_blend gives back the same weights and prefixes."""
    path = tmp_path_factory.mktemp("b") / "blend.json"
    write_blend(path, {"train": train, "valid": valid, "test": test})
    raw = json.loads(path.read_text())
    assert list(raw) == ["train", "valid", "test"]
    assert all(v is None or all(isinstance(x, str) for x in v) for v in raw.values())
    assert read_blend(path) == {"train": train, "valid": valid, "test": test}


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param({"train": [["0.3", "/a"], ["0.7", "/b"]], "valid": None, "test": []},
                 {"train": [(0.3, "/a"), (0.7, "/b")], "valid": None, "test": None},
                 id="nested-form"),
    pytest.param({"data_paths": ["1", "/a", "2", "/b"], "split": "99990,8,2"},
                 {s: [(1.0, "/a"), (2.0, "/b")] for s in ("train", "valid", "test")},
                 id="legacy-single-blend"),
    pytest.param({"train": ["/a", "/b", "/c"], "validation": ["/v"], "test": None},
                 {"train": [(1.0, "/a"), (1.0, "/b"), (1.0, "/c")], "valid": [(1.0, "/v")],
                  "test": None}, id="prefixes-only-and-validation-key"),
])
def test_read_accepted_blend_forms(tmp_path: Path, content: object, expected: object) -> None:
    """Nested, legacy and prefix-only forms are read (never written)."""
    path = tmp_path / "blend.json"
    path.write_text(json.dumps(content))
    assert read_blend(path) == expected


def test_relative_prefix_is_relative_to_the_blend(tmp_path: Path) -> None:
    """A relative prefix names a dataset next to the blend file, and a number weight is read."""
    path = tmp_path / "blend.json"
    path.write_text(json.dumps({"train": [2, "rel/a"], "valid": None, "test": None}))
    assert read_blend(path)["train"] == [BlendEntry(2.0, str(tmp_path / "rel" / "a"))]


@pytest.mark.parametrize(("content", "match"), [
    pytest.param({"trian": ["1", "/a"], "valid": None, "test": None},
                 "unknown key 'trian' .did you mean 'train'", id="unknown-key"),
    pytest.param(["1", "/a"], "JSON object", id="not-an-object"),
    pytest.param({"train": "1 /a", "valid": None, "test": None}, "not a list",
                 id="split-not-a-list"),
    pytest.param({"train": ["1", "/a"]}, "missing split key.s. valid, test", id="missing-keys"),
    pytest.param({"train": [["1", "/a", "x"]], "valid": None, "test": None}, "entry 0",
                 id="nested-entry-of-three"),
    pytest.param({"train": ["nan", "/a"], "valid": None, "test": None}, "positive weight",
                 id="nan-weight"),
])
def test_read_blend_rejects_bad_forms(tmp_path: Path, content: object, match: str) -> None:
    """Malformed blends are a FormatError (a ValueError) naming the file and the problem."""
    path = tmp_path / "blend.json"
    path.write_text(json.dumps(content))
    with pytest.raises(FormatError, match=match) as info:
        read_blend(path)
    assert isinstance(info.value, ValueError) and info.value.path == str(path)


@pytest.mark.parametrize(("blend", "match"), [
    pytest.param({"train": [(0.0, "/a")]}, "not positive", id="zero-weight"),
    pytest.param({"train": [(float("inf"), "/a")]}, "not positive", id="infinite-weight"),
    pytest.param({"validation": [(1.0, "/a")]}, "unknown split 'validation'",
                 id="misspelt-split"),
])
def test_write_blend_rejects_what_megatron_cannot_read(tmp_path: Path,
                                                       blend: dict[str, list[tuple[float, str]]],
                                                       match: str) -> None:
    """A non-positive weight or an unknown split is never written."""
    with pytest.raises(FormatError, match=match):
        write_blend(tmp_path / "b.json", blend)
    assert not (tmp_path / "b.json").exists()


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=3, max_size=3).filter(
    lambda v: sum(v) > 0))
def test_split_ratios_normalise(values: list[float]) -> None:
    """Three ratios parse to fractions that sum to one, in proportion."""
    fr = parse_split(",".join(repr(v) for v in values))
    assert sum(fr) == pytest.approx(1.0)
    assert fr[0] == pytest.approx(values[0] / sum(values))


@pytest.mark.parametrize("spec", [
    pytest.param("70,30", id="two-ratios"),
    pytest.param("a,b,c", id="not-numbers"),
    pytest.param("0,0,0", id="zero-sum"),
    pytest.param("-1,1,1", id="negative"),
    pytest.param("training", id="unknown-split-name"),
])
def test_bad_split_specs(spec: str) -> None:
    """Bad split specs raise ValueError quoting the spec."""
    with pytest.raises(ValueError, match="split"):
        parse_split(spec)


@pytest.mark.parametrize(("env", "cfg", "expected"), [
    pytest.param({}, (None, None), (0, 1), id="no-env"),
    pytest.param({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, (None, None), (1, 2), id="slurm"),
    pytest.param({"RANK": "3", "WORLD_SIZE": "4"}, (None, None), (3, 4), id="torchrun"),
    pytest.param({"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "RANK": "0", "WORLD_SIZE": "8"},
                 (None, None), (0, 8), id="torchrun-wins"),
    pytest.param({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, (0, 1), (0, 1),
                 id="config-wins"),
])
def test_resolve_rank(env: dict[str, str], cfg: tuple[int | None, int | None],
                      expected: tuple[int, int]) -> None:
    """Rank comes from the config, else torchrun variables, else Slurm (kit-config's order)."""
    assert resolve_rank(*cfg, env=env) == expected


@pytest.mark.parametrize(("stage", "cls", "name"), [
    pytest.param("pretrain", PretrainDataConfig, "nano3-pretrain-data", id="pretrain"),
    pytest.param("sft", SFTDataConfig, "nano3-sft-data", id="sft"),
    pytest.param("rl", RLDataConfig, "nano3-rl-data", id="rl"),
])
def test_shipped_configs_load_and_validate(stage: str, cls: type, name: str) -> None:
    """tiny.yaml validates and names NAME-tiny; default.yaml names NAME and needs a path."""
    from kit_config import compose, structure

    tiny: Any = structure(compose(CONFIG_DIR / stage / "tiny.yaml", schema=cls), cls)
    assert tiny.artifact_name == f"{name}-tiny"
    default: Any = structure(compose(CONFIG_DIR / stage / "default.yaml",
                                ["blend.0.path=/data/x.jsonl"], schema=cls), cls)
    assert default.artifact_name == name


def test_gpt2_digest_and_identity(gpt2_tiktoken: Tokenizer, gpt2_hf: Tokenizer) -> None:
    """Both GPT-2 builds share the file digest, vocabulary size and EOD id."""
    assert gpt2_tiktoken.digest == gpt2_hf.digest
    assert (gpt2_tiktoken.vocab_size, gpt2_tiktoken.eod_id) == (50257, 50256)
    assert (gpt2_hf.vocab_size, gpt2_hf.eod_id) == (50257, 50256)


def test_special_token_text_is_encoded_as_plain_text(gpt2_tiktoken: Tokenizer,
                                                     gpt2_hf: Tokenizer) -> None:
    """A document containing '<|endoftext|>' never yields the EOD id from the text itself."""
    text = "before <|endoftext|> after"
    a, b = gpt2_tiktoken.encode_batch([text])[0], gpt2_hf.encode_batch([text])[0]
    assert a.tolist() == b.tolist() and 50256 not in a.tolist()


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)
                      | st.just("a <|endoftext|> b"), max_size=6))
def test_tiktoken_core_path_equals_public_encode_to_numpy(gpt2_tiktoken: Tokenizer,
                                                          texts: list[str]) -> None:
    """encode_batch's direct call on tiktoken's core gives what `encode_to_numpy` gives."""
    enc = gpt2_tiktoken._enc  # type: ignore[attr-defined]
    want = [enc.encode_to_numpy(t, disallowed_special=()).tolist() for t in texts]
    assert [a.tolist() for a in gpt2_tiktoken.encode_batch(texts)] == want


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)
                      | st.just("a <|endoftext|> b"), max_size=6),
       eod=st.sampled_from([None, 50256, 7]))
def test_encode_flat_is_the_documents_concatenated_with_eod(
        gpt2_tiktoken: Tokenizer, gpt2_hf: Tokenizer, texts: list[str], eod: int | None) -> None:
    """encode_flat = each document's ids followed by `eod`, concatenated, with lengths that
    count the EOD; tiktoken's joined-buffer path and the public-method path agree."""
    from nano3.formats._tokenizer import TiktokenTokenizer

    want: list[int] = []
    lengths: list[int] = []
    for ids in gpt2_hf.encode_batch(texts):
        want += [*ids.tolist(), *([] if eod is None else [eod])]
        lengths.append(len(ids) + (eod is not None))
    public = TiktokenTokenizer(_NoCore(gpt2_tiktoken._enc), uri="t", digest="d",  # type: ignore[attr-defined]
                               eod_id=50256)
    for tok in (gpt2_tiktoken, gpt2_hf, public):
        flat, lens = tok.encode_flat(texts, eod)
        assert (flat.tolist(), lens.tolist()) == (want, lengths), tok


class _NoCore:
    """A tiktoken Encoding without the private `_core_bpe` (an older or newer tiktoken)."""

    def __init__(self, enc: object) -> None:
        self._inner = enc
        self.n_vocab = enc.n_vocab  # type: ignore[attr-defined]

    def encode_to_numpy(self, text: str, **kw: object) -> object:
        return self._inner.encode_to_numpy(text, **kw)  # type: ignore[attr-defined]


def test_tiktoken_rank_file(tmp_path: Path) -> None:
    """A .tiktoken rank file loads; EOD gets the next id; the digest is the file's."""
    ranks = [bytes([i]) for i in range(256)] + [b"ab", b"abc"]
    path = tmp_path / "tiny.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(ranks)))
    tok = load_tokenizer(TokenizerSpec(source=str(path), backend="tiktoken"))
    assert tok.eod_id == 258 and tok.vocab_size == 259
    assert tok.encode_batch(["abc"])[0].tolist() == [257]
    path.write_text("not base64 at all\n")
    from nano3.data_prep import TokenizerError

    with pytest.raises(TokenizerError, match="tiny.tiktoken:1"):
        load_tokenizer(TokenizerSpec(source=str(path), backend="tiktoken"))
