"""The bundled tiny corpus: what `make_tiny_corpus` writes, and that its answers are right."""
from __future__ import annotations

from pathlib import Path

import pytest

from nano3.data_prep import make_tiny_corpus
from nano3.data_prep._inputs import CORPUS_DIR


@pytest.mark.parametrize("name", ["pretrain.jsonl", "sft.jsonl", "rl.jsonl"])
def test_committed_corpus_is_what_the_generator_writes(name: str, tmp_path: Path) -> None:
    """Each committed corpus file is byte-identical to a fresh `make_tiny_corpus` run."""
    assert make_tiny_corpus.main([str(tmp_path)]) == 0
    assert (tmp_path / name).read_bytes() == (CORPUS_DIR / name).read_bytes()


def _expected(prompt: str) -> str:
    if "|" not in prompt:
        a, b = prompt.rstrip("=").split("+")
        return str(int(a) + int(b))
    text, op = (part.strip() for part in prompt.split("|"))
    words = text.split()
    return {"copy": text, "first": words[0], "count": str(len(words))}[op]


def test_rl_prompts_are_distinct_and_answers_verify() -> None:
    """No RL prompt repeats (held-out prompts are unseen in training) and each answer is right."""
    records = list(make_tiny_corpus.rl_records())
    prompts = [r["prompt"] for r in records]
    assert len(records) == 2000 and len(set(prompts)) == len(prompts)
    wrong = [r for r in records if _expected(r["prompt"]) != r["answer"]]
    assert wrong == []


def test_sft_answers_verify() -> None:
    """Every SFT conversation's assistant turn is the exact answer to its user turn."""
    for rec in make_tiny_corpus.sft_records(200):
        turns = {m["role"]: m["content"] for m in rec["messages"]}
        assert turns["assistant"] == _expected(turns["user"]), turns
