"""Bad input: clear one-line errors with file and line under `fail`, counts under `skip`."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kit_config import structure, unstructure
from kit_config.errors import ConfigValidationError
from nano3.data_prep import (
    DatasetSpec,
    EmptyInputError,
    ErrorPolicy,
    FakeTokenizer,
    InputNotFoundError,
    InputRecordError,
    PretrainDataConfig,
    Tokenizer,
    TokenizerError,
    TokenizerSpec,
    load_tokenizer,
    prepare_pretrain,
)
from nano3.data_prep.pretrain import main as pretrain_main
from test_nano3_data.conftest import write_jsonl

MakeCfg = Callable[..., PretrainDataConfig]
GOOD = {"text": "a good document"}

BAD_LINES = [
    pytest.param(json.dumps({"body": "x"}).encode() + b"\n", "missing_field",
                 "no field 'text'", id="missing-text-field"),
    pytest.param(b'{"text": "caf\xe9 latin-1"}\n', "invalid_utf8", "not valid UTF-8",
                 id="non-utf8-line"),
    pytest.param(b'{"text": "unterminated\n', "invalid_json", "invalid JSON",
                 id="broken-json"),
    pytest.param(b'["a", "list"]\n', "invalid_json", "not an object", id="not-an-object"),
    pytest.param(json.dumps({"text": 12}).encode() + b"\n", "bad_field_type", "not a string",
                 id="text-not-a-string"),
]


def _file_with_bad_line(tmp_path: Path, bad: bytes) -> Path:
    good = json.dumps(GOOD).encode() + b"\n"
    return write_jsonl(tmp_path / "in.jsonl", [good, good, bad, good])


@pytest.mark.parametrize(("bad", "reason", "words"), BAD_LINES)
def test_fail_policy_names_file_and_line(tmp_path: Path, make_pretrain: MakeCfg,
                                         bad: bytes, reason: str, words: str) -> None:
    """Policy fail: the error names the file, line 3, the reason, and how to skip instead."""
    path = _file_with_bad_line(tmp_path, bad)
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))])
    with pytest.raises(InputRecordError) as info:
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    err = info.value
    assert (err.file, err.line, err.reason) == (str(path), 3, reason)
    assert words in str(err) and "errors.policy=skip" in str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize(("bad", "reason", "words"), BAD_LINES)
def test_skip_policy_counts_in_artifact(tmp_path: Path, make_pretrain: MakeCfg,
                                        bad: bytes, reason: str, words: str) -> None:
    """Policy skip: the bad record is skipped and counted by reason in the artifact."""
    path = _file_with_bad_line(tmp_path, bad)
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))],
                        errors=ErrorPolicy(policy="skip"))
    art = prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    assert art is not None
    assert art.total_sequences == 3
    assert art.metadata["skipped"] == {reason: 1}
    assert art.metadata["skipped_total"] == 1


def test_line_number_is_exact_in_a_later_shard(tmp_path: Path, make_pretrain: MakeCfg) -> None:
    """The reported line is the file's line even when the bad record is in shard 3+."""
    lines = [json.dumps({"text": f"doc {i} " * 20}).encode() + b"\n" for i in range(200)]
    lines[157] = b'{"nope": 1}\n'
    path = write_jsonl(tmp_path / "long.jsonl", lines)
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))], shard_bytes=2048)
    with pytest.raises(InputRecordError) as info:
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    assert info.value.line == 158


def test_empty_text_is_skipped_and_counted_never_an_error(tmp_path: Path,
                                                          make_pretrain: MakeCfg) -> None:
    """Empty documents are dropped (as Megatron does) and counted as empty_text."""
    path = write_jsonl(tmp_path / "e.jsonl", [GOOD, {"text": "   "}, {"text": ""}])
    art = prepare_pretrain(make_pretrain([DatasetSpec(name="a", path=str(path))]),
                           tokenizer=FakeTokenizer())
    assert art is not None
    assert art.total_sequences == 1
    assert art.metadata["skipped"] == {"empty_text": 2}


def test_empty_file_fails_with_its_path(tmp_path: Path, make_pretrain: MakeCfg) -> None:
    """An empty input file is an EmptyInputError naming the dataset and file."""
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(EmptyInputError, match="empty.jsonl is empty"):
        prepare_pretrain(make_pretrain([DatasetSpec(name="a", path=str(path))]),
                         tokenizer=FakeTokenizer())


def test_empty_file_is_counted_under_skip(tmp_path: Path, make_pretrain: MakeCfg) -> None:
    """Under skip, an empty file among good ones is counted as empty_file."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "0.jsonl").write_bytes(b"")
    write_jsonl(tmp_path / "d" / "1.jsonl", [GOOD])
    cfg = make_pretrain([DatasetSpec(name="a", path=str(tmp_path / "d" / "*.jsonl"))],
                        errors=ErrorPolicy(policy="skip"))
    art = prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    assert art is not None
    assert art.metadata["skipped"] == {"empty_file": 1}
    assert art.source_datasets[0].num_files == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("pattern", [
    pytest.param("nothing-here-*.jsonl", id="glob-matching-nothing"),
    pytest.param("missing.jsonl", id="missing-file"),
    pytest.param("subdir/**/*.jsonl", id="recursive-glob-matching-nothing"),
])
def test_input_matching_nothing(tmp_path: Path, make_pretrain: MakeCfg, pattern: str) -> None:
    """A path or glob matching no file is an InputNotFoundError naming dataset and pattern."""
    cfg = make_pretrain([DatasetSpec(name="web", path=str(tmp_path / pattern))])
    with pytest.raises(InputNotFoundError) as info:
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    assert info.value.dataset == "web" and pattern in str(info.value)


def test_unknown_url_protocol(make_pretrain: MakeCfg) -> None:
    """A URL whose protocol fsspec does not know is an InputNotFoundError saying why."""
    cfg = make_pretrain([DatasetSpec(name="x", path="nosuchproto://bucket/*.jsonl")])
    with pytest.raises(InputNotFoundError, match="cannot be opened"):
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())


def test_unencodable_text_fails_with_file_and_line(tmp_path: Path,
                                                   make_pretrain: MakeCfg) -> None:
    """A tokenizer that raises on a document: error with the document's file and line."""
    path = write_jsonl(tmp_path / "t.jsonl", [GOOD, {"text": "has POISON inside"}, GOOD])
    with pytest.raises(InputRecordError) as info:
        prepare_pretrain(make_pretrain([DatasetSpec(name="a", path=str(path))]),
                         tokenizer=FakeTokenizer(fail_on="POISON"))
    assert (info.value.line, info.value.reason) == (2, "encode_error")


def test_unencodable_text_is_counted_under_skip(tmp_path: Path,
                                                make_pretrain: MakeCfg) -> None:
    """Under skip, the unencodable document is dropped and the others kept."""
    path = write_jsonl(tmp_path / "t.jsonl", [GOOD, {"text": "has POISON inside"}, GOOD])
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))],
                        errors=ErrorPolicy(policy="skip"))
    art = prepare_pretrain(cfg, tokenizer=FakeTokenizer(fail_on="POISON"))
    assert art is not None
    assert (art.total_sequences, art.metadata["skipped"]) == (2, {"encode_error": 1})


def test_real_hf_tokenizer_that_cannot_encode(tmp_path: Path, make_pretrain: MakeCfg) -> None:
    """An HF WordLevel tokenizer without an unknown token fails on unseen words, with line."""
    from tokenizers import Tokenizer as HFTok
    from tokenizers import models, pre_tokenizers

    tok = HFTok(models.WordLevel({"a": 0, "good": 1, "document": 2, "<eod>": 3}))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))
    loaded = load_tokenizer(TokenizerSpec(source=str(tok_path), backend="hf", eod_token="<eod>"))
    path = write_jsonl(tmp_path / "t.jsonl", [GOOD, GOOD, {"text": "unseen words"}])
    with pytest.raises(InputRecordError) as info:
        prepare_pretrain(make_pretrain([DatasetSpec(name="a", path=str(path))]),
                         tokenizer=loaded)
    assert info.value.line == 3 and "cannot encode" in str(info.value)


@pytest.mark.parametrize(("weight", "fragment"), [
    pytest.param(0.0, "got 0.0", id="zero-weight"),
    pytest.param(-1.5, "got -1.5", id="negative-weight"),
    pytest.param(float("nan"), "got nan", id="nan-weight"),
    pytest.param(float("inf"), "got inf", id="inf-weight"),
])
def test_weights_not_positive_numbers(tmp_path: Path, make_pretrain: MakeCfg, weight: float,
                                      fragment: str) -> None:
    """Non-positive or non-finite weights are a config error with the key path."""
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD])
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path)),
                         DatasetSpec(name="b", path=str(path), weight=weight)])
    with pytest.raises(ConfigValidationError) as info:
        structure(unstructure(cfg), PretrainDataConfig)
    assert [p.path for p in info.value.problems] == ["blend[1].weight"]
    assert fragment in str(info.value)


def test_weight_that_is_not_a_number_fails_at_the_cli(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """weight: heavy in YAML: exit code 2 and a one-line error naming blend.0.weight."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("artifact_name: x\nblend:\n  - name: a\n    path: /nope.jsonl\n"
                   "    weight: heavy\n")
    assert pretrain_main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "weight" in err and "blend" in err


def test_every_config_problem_is_reported_at_once(tmp_path: Path,
                                                  make_pretrain: MakeCfg) -> None:
    """Several problems: all listed, each with its key path."""
    bad = [DatasetSpec(name="a b", path="", weight=-1, split="70,30"),
           DatasetSpec(name="c", path="x", split="nope", format="csv")]
    cfg = make_pretrain(bad, shard_bytes=0, artifact_name="bad name",
                        errors=ErrorPolicy(policy="ignore"))  # type: ignore[arg-type]
    with pytest.raises(ConfigValidationError) as info:
        structure(unstructure(cfg), PretrainDataConfig)
    paths = {p.path for p in info.value.problems}
    assert paths == {"artifact_name", "blend[0].name", "blend[0].path", "blend[0].weight",
                     "blend[0].split", "blend[1].split", "blend[1].format", "shard_bytes",
                     "errors.policy"}


@pytest.mark.parametrize(("spec", "fragment"), [
    pytest.param(TokenizerSpec(source="/nope/tokenizer.json", backend="hf"), "does not exist",
                 id="missing-file"),
    pytest.param(TokenizerSpec(source="gpt2", eod_token="<|nope|>"), "EOD token",
                 id="unknown-eod-token"),
])
def test_tokenizer_errors(spec: TokenizerSpec, fragment: str) -> None:
    """Bad tokenizer settings are one-line TokenizerErrors."""
    with pytest.raises(TokenizerError, match=fragment):
        load_tokenizer(spec)


def test_broken_tokenizer_json(tmp_path: Path) -> None:
    """A corrupt tokenizer.json is a TokenizerError naming the file, not a traceback."""
    p = tmp_path / "tokenizer.json"
    p.write_text("{not json")
    with pytest.raises(TokenizerError, match="cannot load"):
        load_tokenizer(TokenizerSpec(source=str(p), backend="hf"))


def test_tokenizer_json_with_tiktoken_backend(tmp_path: Path, gpt2_hf: Tokenizer) -> None:
    """A tokenizer.json with backend=tiktoken says to use backend=hf."""
    p = tmp_path / "tokenizer.json"
    p.write_text("{}")
    with pytest.raises(TokenizerError, match="backend=hf"):
        load_tokenizer(TokenizerSpec(source=str(p), backend="tiktoken"))


def test_cli_error_is_one_line_with_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A bad record through the CLI: exit 2, one stderr line, nothing published."""
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD, {"nope": 1}])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"artifact_name: x\noutput_dir: {tmp_path / 'o'}\nblend:\n  - name: a\n"
                   f"    path: {path}\nparallel:\n  progress: false\n")
    assert pretrain_main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}:2" in err
    assert not list((tmp_path / "o").rglob("blend.json"))


def test_error_in_a_worker_process_reaches_the_caller_intact(tmp_path: Path,
                                                             make_pretrain: MakeCfg) -> None:
    """With 2 worker processes, a bad record still raises InputRecordError with file:line."""
    from nano3.data_prep import ParallelSpec

    lines = [json.dumps({"text": f"doc {i} " * 30}).encode() + b"\n" for i in range(100)]
    lines[80] = b'{"body": 1}\n'
    path = write_jsonl(tmp_path / "w.jsonl", lines)
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))], shard_bytes=2048,
                        parallel=ParallelSpec(num_workers=2, progress=False))
    with pytest.raises(InputRecordError) as info:
        prepare_pretrain(cfg, tokenizer=FakeTokenizer())
    assert (info.value.file, info.value.line) == (str(path), 81)
