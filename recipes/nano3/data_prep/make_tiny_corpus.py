"""Generate the tiny corpus in `recipes/nano3/corpus/` (deterministic, no download).

Pretrain text is the Python documentation that CPython bundles (`pydoc_data.topics`, split
into paragraphs) plus task sentences; SFT and RL are the same tasks (single-digit addition;
copy, first word, word count) as chat turns and prompts with exactly verifiable answers. Run:
`python -m nano3.data_prep.make_tiny_corpus [OUT_DIR]` (default: the corpus folder).
"""
from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kit_config import atomic_write_text
from nano3.data_prep._inputs import CORPUS_DIR

__all__ = ["main", "pretrain_records", "rl_records", "sft_records"]

_SEED = 20240601
# Words that GPT-2 encodes as one token both with and without a leading space. Prompts start
# with the words, so a word in the prompt and the same word in the answer are the same token
# id: the tasks below are then learnable by copying tokens, which a 2-layer model does after
# a few hundred SFT steps. (The earlier words, NATO letters such as "kilo", are two to three
# tokens each and differ with and without the space; measured: the tiny SFT model never
# learned to copy them.)
_WORDS = ("apple", "river", "stone", "cloud", "green", "house", "light", "water", "music",
          "paper", "table", "night", "winter", "window", "silver", "gold", "orange", "yellow",
          "black", "white", "horse", "mouse", "forest", "bridge", "castle", "tower", "market",
          "school", "doctor", "king", "ship", "train", "plane", "road", "street", "city",
          "bread", "fire", "ice", "rain", "wind", "storm", "star", "moon", "sun", "planet")


def _task(rng: random.Random) -> tuple[str, str]:
    """One prompt and its exact answer: single-digit addition, or copy/first/count of words."""
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randrange(10), rng.randrange(10)
        return f"{a}+{b}=", str(a + b)
    words = [rng.choice(_WORDS) for _ in range(rng.randrange(1, 4))]
    text = " ".join(words)
    if kind == 1:
        return f"{text} | copy", text
    if kind == 2:
        return f"{text} | first", words[0]
    return f"{text} | count", str(len(words))


def pretrain_records() -> Iterator[dict[str, Any]]:
    """Paragraphs of the bundled Python docs, then arithmetic sentences."""
    from pydoc_data.topics import topics

    for name in sorted(topics):
        for para in topics[name].split("\n\n"):
            if len(para.strip()) > 40:
                yield {"text": para.strip(), "topic": name}
    rng = random.Random(_SEED)
    for _ in range(3000):
        lines = []
        for _ in range(8):
            prompt, answer = _task(rng)
            lines.append(f"{prompt} {answer}")
        yield {"text": "\n".join(lines), "topic": "tasks"}


def sft_records(n: int = 2000) -> Iterator[dict[str, Any]]:
    """Chat records: an optional system turn, a user task, the assistant's exact answer."""
    rng = random.Random(_SEED + 1)
    for i in range(n):
        prompt, answer = _task(rng)
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        if i % 3 == 0:
            messages.insert(0, {"role": "system", "content": "Answer with the result only."})
        yield {"messages": messages}


def rl_records(n: int = 2000) -> Iterator[dict[str, Any]]:
    """Prompt/answer pairs with verifiable answers (exact match), every prompt distinct.

    Distinct prompts make the RL data prep's held-out split truly unseen by RL training
    (with repeats, 48 of 90 held-out prompts were also training prompts).
    """
    rng = random.Random(_SEED + 2)
    seen: set[str] = set()
    while len(seen) < n:
        prompt, answer = _task(rng)
        if prompt not in seen:
            seen.add(prompt)
            yield {"prompt": prompt, "answer": answer}


def _write(path: Path, records: Iterator[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    atomic_write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    """Write pretrain.jsonl, sft.jsonl and rl.jsonl into the output folder."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else CORPUS_DIR
    _write(out / "pretrain.jsonl", pretrain_records())
    _write(out / "sft.jsonl", sft_records())
    _write(out / "rl.jsonl", rl_records())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
