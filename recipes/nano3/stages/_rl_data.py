"""RL prompts of a `SplitJsonlDataArtifact` (FORMATS.md section 4) and the verifiable rewards.

Records are JSONL objects with a prompt and its verifiable answer (`prompt`/`answer`; the
NeMo-RL math names `problem`/`expected_answer` are read too). A completion is cut at its
first stop string (e.g. a newline or the chat template's turn end) and compared to the
answer after stripping whitespace.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kit_artifacts import SplitJsonlDataArtifact
from nano3.stages.errors import DataFormatError

__all__ = ["REWARDS", "RLExample", "clean_completion", "exact_match", "load_rl_splits",
           "prefix_match"]

_PROMPT_KEYS = ("prompt", "problem", "question")
_ANSWER_KEYS = ("answer", "expected_answer")


@dataclass(frozen=True)
class RLExample:
    """One prompt and the answer that earns the full reward."""

    prompt: str
    answer: str


def clean_completion(text: str, stops: Sequence[str] = ("\n",)) -> str:
    """Cut a completion at its first stop string and strip it (what the reward compares)."""
    for stop in stops:
        if stop:
            text = text.split(stop, 1)[0]
    # A completion cut by max_new_tokens may end inside a stop string: drop that partial tail.
    for stop in stops:
        for k in range(len(stop) - 1, 0, -1):
            if text.endswith(stop[:k]):
                text = text[:-k]
                break
    return text.strip()


def exact_match(completion: str, answer: str) -> float:
    """1.0 when the (cleaned) completion equals the answer, else 0.0."""
    return 1.0 if completion.strip() == answer.strip() else 0.0


def prefix_match(completion: str, answer: str) -> float:
    """Partial credit: half the common prefix's share of the longer text; 1.0 if exact.

    Dividing by the longer of the two (not the answer) keeps "answer plus more" from earning
    as much as the answer: measured on the tiny pipeline, credit for a bare prefix taught the
    policy to run on past the answer and to repeat generic answers.
    """
    got, want = completion.strip(), answer.strip()
    if got == want:
        return 1.0
    n = 0
    for a, b in zip(got, want, strict=False):
        if a != b:
            break
        n += 1
    return 0.5 * n / max(len(want), len(got), 1)


REWARDS = {"exact_match": exact_match, "prefix_match": prefix_match}


def _read_jsonl(path: Path) -> list[RLExample]:
    out: list[RLExample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(str(path), f"unreadable ({exc})") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise DataFormatError(f"{path}:{lineno}", f"not JSON ({exc})") from exc
        prompt = next((rec[k] for k in _PROMPT_KEYS if isinstance(rec, dict) and k in rec), None)
        answer = next((rec[k] for k in _ANSWER_KEYS if isinstance(rec, dict) and k in rec), None)
        if not isinstance(prompt, str) or answer is None:
            raise DataFormatError(f"{path}:{lineno}", "record needs a string `prompt` and an "
                                  "`answer`", hint="RL records look like "
                                  '{"prompt": "12+7=", "answer": "19"}')
        out.append(RLExample(prompt, str(answer)))
    return out


def load_rl_splits(data: SplitJsonlDataArtifact) -> dict[str, list[RLExample]]:
    """Load the train/val/test JSONL files the artifact names (relative to its manifest)."""
    if not data.train:
        raise DataFormatError(data.path, "the artifact has no `train` split",
                              hint="re-run RL data prep with a train split")
    splits: dict[str, list[RLExample]] = {}
    for split, named in (("train", data.train), ("val", data.val), ("test", data.test)):
        examples: list[RLExample] = []
        if named:
            p = Path(named)
            p = p if p.is_absolute() else Path(data.path).parent / p
            if not p.is_file():
                raise DataFormatError(str(p), f"listed as {split!r} by {data.path} but missing")
            examples = _read_jsonl(p)
        splits[split] = examples
    if not splits["train"]:
        raise DataFormatError(data.path, "the train split has no records")
    return splits
