"""RL split JSONL + `manifest.json` (docs/FORMATS.md section 4): data prep writes, RL reads.

Records are JSONL objects, keys sorted, one per line: `prompt` (string), `answer` (string, what
earns the full reward) and the input record's other fields as they were. The reader also takes
NeMo-RL's math names (`problem`/`question`, `expected_answer`).

A data prep shard writes `SPLIT/KEY.jsonl`; the merge concatenates them in shard order into
`train.jsonl`, `val.jsonl`, `test.jsonl` (NeMo-RL's split names, `RL_SPLITS`) and writes
`manifest.json`: `{"train": PATH, "val": PATH, "test": PATH}` (absolute; "" for an empty split),
then `mode` ("split"), `source_splits` (dataset -> split fractions), `run_hash`, `shards` (every
shard file per split) and `counts` (records per split).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit_config import atomic_write_json, atomic_writer
from nano3.formats.errors import FormatError

__all__ = ["RLExample", "RL_MANIFEST_FILENAME", "RL_SPLITS", "encode_rl_record", "read_rl_splits",
           "write_rl_splits"]

RL_MANIFEST_FILENAME = "manifest.json"
#: Our split name -> the manifest's key and file stem (NeMo-RL's names).
RL_SPLITS = {"train": "train", "valid": "val", "test": "test"}
_PROMPT_KEYS = ("prompt", "problem", "question")
_ANSWER_KEYS = ("answer", "expected_answer")


@dataclass(frozen=True)
class RLExample:
    """One prompt and the answer that earns the full reward."""

    prompt: str
    answer: str


def encode_rl_record(prompt: str, answer: str, extra: Mapping[str, Any]) -> bytes:
    """One JSONL line: `prompt`, `answer` and the other fields, keys sorted."""
    import orjson

    return orjson.dumps({"prompt": prompt, "answer": answer, **extra},
                        option=orjson.OPT_SORT_KEYS) + b"\n"


def write_rl_splits(out_dir: Path, parts: Mapping[str, Sequence[Path]], *,
                    source_splits: Mapping[str, str], run_hash: str,
                    counts: Mapping[str, int]) -> dict[str, Any]:
    """Concatenate each split's shard files (keyed by manifest key) and write the manifest."""
    manifest: dict[str, Any] = {key: "" for key in RL_SPLITS.values()}
    for key, files in parts.items():
        if files:
            manifest[key] = str(out_dir / f"{key}.jsonl")
            with atomic_writer(manifest[key]) as fout:
                for part in files:
                    with open(part, "rb") as fin:
                        shutil.copyfileobj(fin, fout, 1 << 20)
    manifest.update({
        "mode": "split",
        "source_splits": dict(source_splits),
        "run_hash": run_hash,
        "shards": {key: [str(p) for p in parts.get(key, ())] for key in RL_SPLITS.values()},
        "counts": dict(counts),
    })
    atomic_write_json(out_dir / RL_MANIFEST_FILENAME, manifest, sort_keys=False)
    return manifest


def _read_jsonl(path: Path) -> list[RLExample]:
    out: list[RLExample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), f"unreadable ({exc})") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise FormatError(f"{path}:{lineno}", f"not JSON ({exc})") from exc
        prompt = next((rec[k] for k in _PROMPT_KEYS if isinstance(rec, dict) and k in rec), None)
        answer = next((rec[k] for k in _ANSWER_KEYS if isinstance(rec, dict) and k in rec), None)
        if not isinstance(prompt, str) or answer is None:
            raise FormatError(f"{path}:{lineno}", "record needs a string `prompt` and an "
                              "`answer`", hint="RL records look like "
                              '{"prompt": "12+7=", "answer": "19"}')
        out.append(RLExample(prompt, str(answer)))
    return out


def read_rl_splits(manifest: str, named: Mapping[str, str | None]) -> dict[str, list[RLExample]]:
    """Records of the split files `named` (manifest key -> path, relative to the manifest)."""
    if not named.get("train"):
        raise FormatError(manifest, "the artifact has no `train` split",
                          hint="re-run RL data prep with a train split")
    splits: dict[str, list[RLExample]] = {}
    for key in RL_SPLITS.values():
        splits[key] = []
        if value := named.get(key):
            p = Path(value)
            p = p if p.is_absolute() else Path(manifest).parent / p
            if not p.is_file():
                raise FormatError(str(p), f"listed as {key!r} by {manifest} but missing")
            splits[key] = _read_jsonl(p)
    if not splits["train"]:
        raise FormatError(manifest, "the train split has no records")
    return splits
