"""RL prompts of a `SplitJsonlDataArtifact` and the verifiable rewards.

The split files and their records are `nano3.formats` (FORMATS.md section 4). A completion
is cut at its first stop string (e.g. a newline or the chat template's turn end) and compared
to the answer after stripping whitespace.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from kit_artifacts import SplitJsonlDataArtifact
from nano3.formats import FormatError, RLExample, read_rl_splits
from nano3.stages.errors import DataFormatError

__all__ = ["REWARDS", "clean_completion", "exact_match", "load_rl_splits", "prefix_match"]


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
    n = len(os.path.commonprefix([got, want]))
    return 0.5 * n / max(len(want), len(got), 1)


REWARDS = {"exact_match": exact_match, "prefix_match": prefix_match}


def load_rl_splits(data: SplitJsonlDataArtifact) -> dict[str, list[RLExample]]:
    """Load the train/val/test JSONL files the artifact names (relative to its manifest)."""
    try:
        return read_rl_splits(data.path, {"train": data.train, "val": data.val,
                                          "test": data.test})
    except FormatError as exc:
        raise DataFormatError.from_format(exc) from exc
