"""Pretrain data prep end to end: tokens, splits, blend, determinism, resume, ranks."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from nano3.data_prep import (
    DatasetSpec,
    IndexedReader,
    ParallelSpec,
    PretrainDataConfig,
    SampleSpec,
    Tokenizer,
    prepare_pretrain,
    published_name,
)
from nano3.data_prep.pretrain import main as pretrain_main
from test_nano3_data.conftest import PYTHON, subprocess_env, text_records, tree_bytes, write_jsonl

MakeCfg = Callable[..., PretrainDataConfig]


def _out_dir(art: Any) -> Path:
    return Path(art.path)


def _blend(art: Any) -> Path:
    assert art.blend_path is not None
    return Path(art.blend_path)


def _all_docs(out: Path, split: str) -> list[list[int]]:
    docs: list[list[int]] = []
    for idx in sorted((out / split).glob("*.idx")):
        r = IndexedReader(idx.with_suffix(""))
        docs += [r[i].tolist() for i in range(len(r))]
    return docs


def test_every_document_tokenized_once_with_eod(tmp_path: Path, make_pretrain: MakeCfg,
                                                gpt2_tiktoken: Tokenizer) -> None:
    """Each input document lands in exactly one split, as its tokens followed by EOD."""
    recs = text_records(300)
    path = write_jsonl(tmp_path / "in" / "a.jsonl", recs)
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path), split="80,10,10")])
    art = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    out = _out_dir(art)
    got = sorted(d for s in ("train", "valid", "test") for d in _all_docs(out, s))
    want = sorted([*t.tolist(), 50256] for t in gpt2_tiktoken.encode_batch(
        [r["text"] for r in recs]))
    assert got == want
    assert art.total_sequences == 300
    assert art.total_tokens == sum(len(d) for d in want)
    splits = (art.train_tokens, art.valid_tokens, art.test_tokens)
    assert all(isinstance(n, int) and n > 0 for n in splits)
    assert sum(n or 0 for n in splits) == art.total_tokens
    assert art.tokenizer_uri == "gpt2"
    assert art.metadata["tokenizer"]["digest"].startswith("sha256:")


def test_blend_is_flat_weighted_and_names_only_nonempty_shards(
        tmp_path: Path, make_pretrain: MakeCfg, gpt2_tiktoken: Tokenizer) -> None:
    """blend.json: train/valid/test keys, flat [weight, prefix] lists, null for empty splits."""
    a = write_jsonl(tmp_path / "a.jsonl", text_records(200, seed=1))
    b = write_jsonl(tmp_path / "b.jsonl", text_records(100, seed=2))
    cfg = make_pretrain([DatasetSpec(name="a", path=str(a), weight=3.0, split="train"),
                         DatasetSpec(name="b", path=str(b), weight=1.0, split="90,10,0")])
    art = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    blend = json.loads(_blend(art).read_text())
    assert list(blend) == ["train", "valid", "test"]
    assert blend["test"] is None
    weights: dict[str, float] = {}
    for w, prefix in zip(blend["train"][::2], blend["train"][1::2], strict=True):
        assert isinstance(w, str) and Path(prefix).is_absolute()
        assert Path(prefix + ".bin").stat().st_size > 0 and Path(prefix + ".idx").is_file()
        ds = Path(prefix).name.split("_")[0]
        weights[ds] = weights.get(ds, 0.0) + float(w)
    assert weights["a"] == pytest.approx(3.0) and weights["b"] == pytest.approx(1.0)
    assert all(Path(p).name.startswith("b_") for p in blend["valid"][1::2])
    assert art.num_shards == len(blend["train"]) // 2 + len(blend["valid"]) // 2


def test_same_inputs_give_byte_identical_outputs_for_any_worker_count(
        tmp_path: Path, make_pretrain: MakeCfg, gpt2_tiktoken: Tokenizer) -> None:
    """1 worker and 2 workers, in different output dirs, write the same bytes."""
    path = write_jsonl(tmp_path / "a.jsonl", text_records(400))
    ds = [DatasetSpec(name="a", path=str(path))]
    one = prepare_pretrain(make_pretrain(ds, output_dir=str(tmp_path / "o1")),
                           tokenizer=gpt2_tiktoken)
    two = prepare_pretrain(make_pretrain(ds, output_dir=str(tmp_path / "o2"),
                                         parallel=ParallelSpec(num_workers=2, progress=False)),
                           tokenizer=gpt2_tiktoken)
    assert one is not None and two is not None
    b1, b2 = tree_bytes(_out_dir(one)), tree_bytes(_out_dir(two))
    assert len(b1) > 4 and b1 == b2
    assert _out_dir(one).name == _out_dir(two).name  # same run hash
    blend1 = _blend(one).read_text().replace(str(tmp_path / "o1"), "X")
    assert blend1 == _blend(two).read_text().replace(str(tmp_path / "o2"), "X")


def test_hf_and_tiktoken_backends_write_the_same_tokens(
        tmp_path: Path, make_pretrain: MakeCfg, gpt2_tiktoken: Tokenizer,
        gpt2_hf: Tokenizer) -> None:
    """The two GPT-2 builds agree token for token on the written shards."""
    path = write_jsonl(tmp_path / "a.jsonl", text_records(200, seed=5))
    ds = [DatasetSpec(name="a", path=str(path))]
    a = prepare_pretrain(make_pretrain(ds, output_dir=str(tmp_path / "t")), tokenizer=gpt2_tiktoken)
    b = prepare_pretrain(make_pretrain(ds, output_dir=str(tmp_path / "h")), tokenizer=gpt2_hf)
    assert a is not None and b is not None
    assert tree_bytes(_out_dir(a)) == tree_bytes(_out_dir(b))
    assert _out_dir(a).name != _out_dir(b).name  # backend is part of the run identity


def test_changed_input_gets_a_new_run_directory(tmp_path: Path, make_pretrain: MakeCfg,
                                                gpt2_tiktoken: Tokenizer) -> None:
    """Editing an input changes the run hash: old shards are never mixed into the new run."""
    path = write_jsonl(tmp_path / "a.jsonl", text_records(50))
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))])
    first = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    write_jsonl(path, text_records(50, seed=9))
    second = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert first is not None and second is not None
    assert first.path != second.path


def test_sampled_run_publishes_under_a_distinct_name(tmp_path: Path, make_pretrain: MakeCfg,
                                                     gpt2_tiktoken: Tokenizer) -> None:
    """A 50% sample keeps about half the documents and is named NAME-sample0.5."""
    path = write_jsonl(tmp_path / "a.jsonl", text_records(400))
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))],
                        sample=SampleSpec(fraction=0.5),
                        artifact_name="nano3-pretrain-data")
    art = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    assert published_name(cfg) == "nano3-pretrain-data-sample0.5"
    assert "nano3-pretrain-data-sample0.5" in art.path
    assert 150 < art.total_sequences < 250


_KILL_SCRIPT = """
import os, sys, yaml
from nano3.data_prep import _runner
from nano3.formats import IndexedWriter
mode, n = sys.argv[2], int(sys.argv[3])
calls = {"n": 0}
def tick():
    calls["n"] += 1
    if calls["n"] == n:
        os._exit(9)   # like SIGKILL: no cleanup, temp files stay behind
if mode == "batch":
    orig = IndexedWriter.add_batch
    def add_batch(self, *a):
        orig(self, *a); tick()
    IndexedWriter.add_batch = add_batch
elif mode == "close":
    orig_close = IndexedWriter.close
    def close(self):
        orig_close(self); tick()
    IndexedWriter.close = close
elif mode == "receipt":
    orig_finish = _runner._finish
    def finish(*a):
        orig_finish(*a); tick()
    _runner._finish = finish
from nano3.data_prep.pretrain import main
sys.exit(main(["--config", sys.argv[1]]))
"""


def _write_cfg(tmp_path: Path, out: Path, data: Path, **extra: Any) -> Path:
    cfg = {"artifact_name": "kill-test", "output_dir": str(out), "shard_bytes": 4096,
           "batch_docs": 16,
           "blend": [{"name": "a", "path": str(data), "split": "80,10,10"}],
           "parallel": {"num_workers": 1, "progress": False}, **extra}
    path = tmp_path / f"cfg-{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(("mode", "n"), [
    pytest.param("batch", 3, id="mid-shard"),
    pytest.param("close", 2, id="after-shard-files-before-receipt"),
    pytest.param("receipt", 3, id="after-third-receipt"),
])
def test_killed_run_resumes_to_byte_identical_output(tmp_path: Path, mode: str,
                                                     n: int) -> None:
    """A run killed at any point, restarted, skips finished shards and matches a clean run."""
    data = write_jsonl(tmp_path / "a.jsonl", text_records(300))
    clean_cfg = _write_cfg(tmp_path, tmp_path / "clean", data)
    killed_cfg = _write_cfg(tmp_path, tmp_path / "killed", data)
    assert pretrain_main(["--config", str(clean_cfg)]) == 0
    env = subprocess_env()
    dead = subprocess.run([PYTHON, "-c", _KILL_SCRIPT, str(killed_cfg), mode, str(n)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert dead.returncode == 9, dead.stderr
    run_dir = next((tmp_path / "killed" / "kill-test").iterdir())
    assert not (run_dir / "blend.json").exists()
    done_before = {p.name for p in (run_dir / "receipts").glob("*.json")}
    assert pretrain_main(["--config", str(killed_cfg)]) == 0
    clean_dir = next((tmp_path / "clean" / "kill-test").iterdir())
    assert tree_bytes(run_dir) == tree_bytes(clean_dir)
    assert not list(run_dir.rglob("*.tmp"))
    # Shards finished before the kill were not redone (their receipts are unchanged).
    for name in done_before:
        assert (run_dir / "receipts" / name).exists()


def test_two_ranks_match_single_process_and_publish_once(tmp_path: Path) -> None:
    """SLURM_PROCID 0/1 of 2 share the shards; rank 0 merges; bytes equal a 1-process run."""
    data = write_jsonl(tmp_path / "a.jsonl", text_records(400))
    single = _write_cfg(tmp_path, tmp_path / "single", data)
    multi = _write_cfg(tmp_path, tmp_path / "multi", data)
    assert pretrain_main(["--config", str(single)]) == 0
    cmd = [PYTHON, "-m", "nano3.data_prep.pretrain", "--config", str(multi)]
    procs = [subprocess.Popen(cmd, env=subprocess_env(SLURM_PROCID=str(r), SLURM_NTASKS="2",
                                                      NEMOTRON_RUN_ID="20250101-000000-abcdef"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert "] published art://kill-test:v" in outs[0][0]  # rank 0 published
    assert "art://" not in outs[1][0]  # rank 1 did not
    one = next((tmp_path / "single" / "kill-test").iterdir())
    two = next((tmp_path / "multi" / "kill-test").iterdir())
    assert tree_bytes(one) == tree_bytes(two)
    receipts = [json.loads(p.read_text()) for p in (two / "receipts").glob("*.json")]
    assert len(receipts) >= 4


def test_cli_publishes_artifact_with_lineage_fields(tmp_path: Path) -> None:
    """`python -m nano3.data_prep.pretrain` publishes a PretrainBlendsArtifact in the registry."""
    from kit_artifacts import PretrainBlendsArtifact

    data = write_jsonl(tmp_path / "a.jsonl", text_records(100))
    cfg = _write_cfg(tmp_path, tmp_path / "cli", data)
    res = subprocess.run([PYTHON, "-m", "nano3.data_prep.pretrain", "--config", str(cfg)],
                         env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    uri = res.stdout.strip().splitlines()[-1].split()[-1]  # "[stage] published URI"
    art = PretrainBlendsArtifact.from_uri(uri)
    assert art.total_sequences == 100
    assert art.source_datasets[0].name == "a"  # type: ignore[union-attr]
    assert art.source_datasets[0].num_rows == 100  # type: ignore[union-attr]
    assert art.metadata["run_hash"] == json.loads(
        (Path(art.path) / "run.json").read_text())["run_hash"]
    assert np.dtype(art.metadata["dtype"]) == np.uint16


def test_progress_without_tty_prints_one_summary_line(
        tmp_path: Path, make_pretrain: MakeCfg, gpt2_tiktoken: Tokenizer,
        capsys: pytest.CaptureFixture[str]) -> None:
    """In batch logs (no TTY) progress is one line with tokens and tokens/s."""
    path = write_jsonl(tmp_path / "a.jsonl", text_records(50))
    cfg = make_pretrain([DatasetSpec(name="a", path=str(path))],
                        parallel=ParallelSpec(num_workers=1, progress=True))
    art = prepare_pretrain(cfg, tokenizer=gpt2_tiktoken)
    assert art is not None
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{art.total_tokens:,} tokens in" in err and "M tokens/s" in err
