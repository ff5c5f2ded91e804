"""Benchmark: SFT data prep (chat JSONL -> loss-masked packed Parquet) and RL splits
(prompt/answer JSONL -> per-split JSONL), end to end, against their limits in the same run.

On generated corpora (default 20 MB each) built from the Python docs' paragraphs:
  SFT: `prepare_sft` (tiktoken GPT-2, pack_size 2048) with 1 and P workers, next to the raw
       tokenizer on the same turn contents (the limit: SFT adds templates, masks, packing and
       Parquet around it); prints conversations/s, tokens/s, CPU-s per M tokens.
  RL:  `prepare_rl` with 1 and P workers, next to a plain read + orjson parse of the file
       (the limit: RL only validates, splits and rewrites records); prints records/s, MB/s.
Each run is a fresh process (no warm caches from the bench); load average printed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _paragraphs() -> list[str]:
    from pydoc_data.topics import topics

    return [p.strip() for t in topics.values() for p in t.split("\n\n") if len(p.strip()) > 40]


def make_chats(path: Path, size_mb: float, seed: int = 0) -> int:
    """~size_mb of chat JSONL: a system turn, then 1-3 user/assistant exchanges."""
    paras, rng, n = _paragraphs(), random.Random(seed), 0
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < size_mb * 1e6:
            msgs = [{"role": "system", "content": "You answer questions about Python."}]
            for _ in range(rng.randrange(1, 4)):
                msgs += [{"role": "user", "content": rng.choice(paras)},
                         {"role": "assistant", "content": rng.choice(paras)}]
            f.write(json.dumps({"messages": msgs}) + "\n")
            n += 1
    return n


def make_rl(path: Path, size_mb: float, seed: int = 0) -> int:
    """~size_mb of prompt/answer JSONL with an extra field."""
    paras, rng, n = _paragraphs(), random.Random(seed), 0
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < size_mb * 1e6:
            f.write(json.dumps({"prompt": rng.choice(paras), "answer": str(rng.randrange(99)),
                                "id": n}) + "\n")
            n += 1
    return n


_RUN = (
    "import json,resource,sys,time\n"
    "from nano3.data_prep import *\n"
    "kind, corpus, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])\n"
    "par = ParallelSpec(num_workers=workers, progress=False)\n"
    "ds = [DatasetSpec(name='c', path=corpus, split='98,1,1', text_field='messages')]\n"
    "if kind == 'sft':\n"
    "    cfg = SFTDataConfig(artifact_name='b', output_dir=out, blend=ds, parallel=par,\n"
    "                        shard_bytes=int(sys.argv[5]))\n"
    "    run = prepare_sft\n"
    "else:\n"
    "    cfg = RLDataConfig(artifact_name='b', output_dir=out, parallel=par,\n"
    "        blend=[DatasetSpec(name='c', path=corpus, split='98,1,1')],\n"
    "        shard_bytes=int(sys.argv[5]))\n"
    "    run = prepare_rl\n"
    "t0 = time.perf_counter(); a = run(cfg); dt = time.perf_counter() - t0\n"
    "r = resource.getrusage\n"
    "cpu = sum(x.ru_utime + x.ru_stime for x in (r(resource.RUSAGE_SELF),"
    " r(resource.RUSAGE_CHILDREN)))\n"
    "import attrs\n"
    "d = {k: v for k, v in attrs.asdict(a).items() if isinstance(v, int)}\n"
    "print(json.dumps({'dt': dt, 'cpu': cpu, **d}))\n"
)


def run_stage(kind: str, corpus: Path, out: Path, workers: int, shard_bytes: int
              ) -> dict[str, Any]:
    """One stage in a fresh process; its wall time (stage only), CPU and integer fields."""
    res = subprocess.run([sys.executable, "-c", _RUN, kind, str(corpus), str(out),
                          str(workers), str(shard_bytes)],
                         capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def sft_limit(corpus: Path) -> dict[str, float]:
    """Raw tiktoken over every turn's content (no template, mask, packing or I/O)."""
    import orjson

    from nano3.data_prep import TokenizerSpec, load_tokenizer

    texts = [m["content"] for line in corpus.open("rb") for m in orjson.loads(line)["messages"]]
    enc = load_tokenizer(TokenizerSpec(source="gpt2"))._enc.encode_to_numpy  # type: ignore[attr-defined]
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(len(enc(t, disallowed_special=())) for t in texts)
    return {"tps": n / (time.perf_counter() - t0), "cpu_per_mtok": (time.process_time() - c0)
            / n * 1e6}


def rl_limit(corpus: Path) -> float:
    """Seconds to read the file and parse every line with orjson."""
    import orjson

    t0 = time.perf_counter()
    with corpus.open("rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - t0


def main() -> int:
    """Generate both corpora, run both stages at 1 and P workers, print throughput."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mb", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    P = args.workers
    shard = int(args.size_mb * 1e6 / (4 * P)) + 1
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-dp-sft-rl-") as tmp:
        root = Path(tmp)
        chats, rl = root / "chats.jsonl", root / "rl.jsonl"
        n_chat, n_rl = make_chats(chats, args.size_mb), make_rl(rl, args.size_mb)
        lim = sft_limit(chats)
        print(f"SFT: {chats.stat().st_size / 1e6:.0f} MB, {n_chat:,} conversations; raw "
              f"tokenizer on the contents {lim['tps'] / 1e6:.2f} M tokens/s, "
              f"{lim['cpu_per_mtok']:.3f} CPU-s per M tokens")
        for w in (1, P):
            r = run_stage("sft", chats, root / f"sft{w}", w, shard)
            tokens = r["total_tokens"]
            print(f"  prepare_sft, {w} worker(s): {n_chat / r['dt']:8,.0f} conversations/s  "
                  f"{tokens / r['dt'] / 1e6:5.2f} M tokens/s  "
                  f"{r['cpu'] / tokens * 1e6:.3f} CPU-s per M tokens  "
                  f"(tokens/s vs raw: {tokens / r['dt'] / lim['tps']:.2f})")
        base = rl_limit(rl)
        size = rl.stat().st_size / 1e6
        print(f"RL: {size:.0f} MB, {n_rl:,} records; read + orjson parse alone "
              f"{size / base:.0f} MB/s")
        for w in (1, P):
            r = run_stage("rl", rl, root / f"rl{w}", w, shard)
            print(f"  prepare_rl, {w} worker(s): {n_rl / r['dt']:9,.0f} records/s  "
                  f"{size / r['dt']:6.1f} MB/s  {r['cpu']:.2f} CPU-s  "
                  f"(vs parse alone: {base / r['dt']:.2f})")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
