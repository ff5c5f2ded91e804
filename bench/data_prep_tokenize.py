"""Benchmark: text JSONL -> Megatron bin/idx, ours vs tokenizer limit vs Megatron's loop.

In one run, on a generated JSONL corpus (default 20 MB; the issue's figure is 200 MB:
`--size-mb 200`), with P worker processes (default 2):
  (a) raw tokenizer throughput: the library's own batch API, timing only its calls (texts
      parsed untimed, batch by batch), none of our code (the limit);
  (b) a baseline following Megatron-LM's preprocess_data.py loop: multiprocessing pool over
      lines (json.loads + per-document encode), per-document builder calls in the parent
      (megatron-core's IndexedDatasetBuilder when installed). Each document is encoded the
      way that loop does it: for HF, megatron-core's own `HuggingFaceTokenizer.text_to_ids`
      (transformers' fast tokenizer: text -> token strings -> ids) when transformers is
      importable; for tiktoken, `Encoding.encode` as Megatron's `TikTokenTokenizer` calls it.
      The same loop calling the `tokenizers` library directly (no Megatron wrapper) is
      printed beside it, so the effect of the wrapper is visible;
  (c) ours: `prepare_pretrain` (split=train, append_eod) with 1 and P workers;
  (d) the raw loop of (a) in P processes at once, each on every P-th line: what P cores of
      this machine give the tokenizer alone (context for the P-worker ratio, no target);
for the HF tokenizers BPE and the tiktoken build of GPT-2. Prints tokens/s, CPU-seconds per
million tokens (user + system of every process involved: what a shared machine's load does
not distort), the ratios the issue sets as targets by both measures, the load average at
start and end, checks that our output is byte-identical to the baseline's, and reports peak
RSS of our run at two corpus sizes (memory must not grow with the corpus).

`--rounds N` repeats every measurement N times, odd rounds in reverse order, and prints each
ratio's median over rounds and its spread: on a shared host the machine's speed drifts over
minutes, and a ratio of two figures taken minutes apart carries that drift.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one core per process, everywhere


def make_corpus(path: Path, size_mb: float, seed: int = 0) -> int:
    """Write ~size_mb of JSONL documents built from the Python docs' paragraphs."""
    from pydoc_data.topics import topics

    paras = [p.strip() for t in topics.values() for p in t.split("\n\n") if len(p.strip()) > 40]
    rng = random.Random(seed)
    target, n = int(size_mb * 1e6), 0
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < target:
            doc = "\n\n".join(rng.choice(paras) for _ in range(rng.randrange(1, 8)))
            f.write(json.dumps({"text": doc, "id": n}) + "\n")
            n += 1
    return n


def run_child(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; its last stdout line is a JSON object."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def raw_throughput(backend: str, corpus: Path, batch: int = 1024,
                   part: tuple[int, int] = (0, 1)) -> dict[str, float]:
    """(a): the tokenizer library's own batch API, ids out, timing only the encode calls.

    Runs in a fresh process that parses the corpus batch by batch (untimed), so only a
    batch of texts is ever held: with all 200 MB of texts in memory, HF's encode ran ~20%
    slower on the same texts, which would flatter every ratio against this limit.
    HF: `encode_batch_fast` (no offsets) and each encoding's ids; tiktoken: `encode_to_numpy`
    per text. Called directly on the library objects, so our wrapper's work counts as ours.
    `part=(k, n)`: only every n-th line from line k (n of these run at once in `raw_at_once`).
    """
    return run_child(_raw_code(backend, corpus, batch, part))


def _raw_code(backend: str, corpus: Path, batch: int, part: tuple[int, int]) -> str:
    return (
        "import itertools,json,sys,time,orjson\n"
        "from nano3.data_prep import TokenizerSpec, load_tokenizer\n"
        f"tok=load_tokenizer(TokenizerSpec(source='gpt2', backend={backend!r}))\n"
        f"be, B = {backend!r}, {batch}\n"
        "hf=tok._tok.encode_batch_fast if be=='hf' else None\n"
        "tt=tok._enc.encode_to_numpy if be!='hf' else None\n"
        "wall=cpu=0.0; n=0\n"
        f"f=itertools.islice(open({str(corpus)!r}, 'rb'), {part[0]}, None, {part[1]})\n"
        "while True:\n"
        "    texts=[orjson.loads(l)['text'] for l in itertools.islice(f, B)]\n"
        "    if not texts: break\n"
        "    t0=time.perf_counter(); c0=time.process_time()\n"
        "    if hf: n+=sum(len(e.ids) for e in hf(texts, add_special_tokens=False))\n"
        "    else: n+=sum(len(tt(t, disallowed_special=())) for t in texts)\n"
        "    wall+=time.perf_counter()-t0; cpu+=time.process_time()-c0\n"
        "print(json.dumps({'tps': n/wall, 'tokens': n, 'cpu_per_mtok': cpu/n*1e6}))\n")


def raw_at_once(backend: str, corpus: Path, workers: int) -> dict[str, float]:
    """The tokenizer's own limit on P cores of this machine: P fresh processes at once, each
    encoding every P-th line as in (a); tokens/s is the sum of theirs. On a shared host two
    busy cores may not give twice one core's speed: this says what P x raw really is here."""
    codes = [_raw_code(backend, corpus, 1024, (k, workers)) for k in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for code in codes]
    rows = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, "raw tokenizer child")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    tokens = sum(r["tokens"] for r in rows)
    return {"tps": sum(r["tps"] for r in rows), "tokens": tokens,
            "cpu_per_mtok": sum(r["cpu_per_mtok"] * r["tokens"] for r in rows) / tokens}


def cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (pool workers), user + system."""
    usage = (resource.getrusage(resource.RUSAGE_SELF),
             resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usage)


_BASE_TOK: Any = None


_BASE_ENCODE: Any = None


def megatron_hf_wrapper(tok: Any) -> Any:
    """megatron-core's HuggingFaceTokenizer over our HF tokenizer's `tokenizer.json`, or None
    when transformers (which that wrapper needs) is not importable."""
    if importlib.util.find_spec("transformers") is None:
        return None
    from megatron.core.tokenizers.text.libraries.huggingface_tokenizer import (
        HuggingFaceTokenizer,
    )

    folder = tempfile.mkdtemp(prefix="bench-hf-tok-")
    tok._tok.save(str(Path(folder) / "tokenizer.json"))
    return HuggingFaceTokenizer(tokenizer_path=folder, use_fast=True)


def _base_init(backend: str, wrapper: bool) -> None:
    global _BASE_TOK, _BASE_ENCODE
    from nano3.data_prep import TokenizerSpec, load_tokenizer

    tok: Any = load_tokenizer(TokenizerSpec(source="gpt2", backend=backend))  # type: ignore[arg-type]
    _BASE_TOK = tok
    if backend == "tiktoken":  # Megatron's TikTokenTokenizer.text_to_ids is this call
        _BASE_ENCODE = lambda text: tok._enc.encode(text, disallowed_special=())  # noqa: E731
    elif wrapper and (megatron_tok := megatron_hf_wrapper(tok)) is not None:
        _BASE_ENCODE = megatron_tok.text_to_ids
    else:
        _BASE_ENCODE = lambda text: tok._tok.encode(text, add_special_tokens=False).ids  # noqa: E731


def _base_encode(line: str) -> tuple[list[int], int]:
    # Megatron's Encoder.encode: json.loads, tokenize the one document, append EOD.
    ids: list[int] = _BASE_ENCODE(json.loads(line)["text"])
    if ids:
        ids.append(_BASE_TOK.eod_id)
    return ids, len(line)


def megatron_loop(backend: str, corpus: Path, prefix: str, workers: int,
                  wrapper: bool = True) -> dict[str, float]:
    """(b): pool.imap(encode, lines, 32) + one builder.add_item per document; `wrapper`: HF
    documents go through megatron-core's tokenizer wrapper (else `tokenizers` directly)."""
    import multiprocessing as mp

    import numpy as np

    try:
        import torch
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        def to_item(ids: list[int]) -> Any:
            return torch.IntTensor(ids)
    except ImportError:  # same per-document calls, our numpy replica of the builder
        from nano3.data_prep import IndexedWriter

        class IndexedDatasetBuilder:  # type: ignore[no-redef]
            def __init__(self, path: str, dtype: Any) -> None:
                self.w = IndexedWriter(path[:-4], dtype)

            def add_item(self, arr: Any) -> None:
                self.w.add_batch(arr, np.array([len(arr)]))

            def end_document(self) -> None:
                pass

            def finalize(self, idx: str) -> None:
                self.w.close()

        def to_item(ids: list[int]) -> Any:
            return np.asarray(ids)

    t0, c0, n = time.perf_counter(), cpu_seconds(), 0
    builder = IndexedDatasetBuilder(prefix + ".bin", dtype=np.uint16)
    with open(corpus, encoding="utf-8") as fin, mp.get_context("fork").Pool(
            workers, initializer=_base_init, initargs=(backend, wrapper)) as pool:
        for ids, _ in pool.imap(_base_encode, fin, 32):
            if ids:
                builder.add_item(to_item(ids))
                builder.end_document()
                n += len(ids)
    builder.finalize(prefix + ".idx")
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"tps": n / wall, "tokens": n, "cpu_per_mtok": cpu / n * 1e6}


def ours(backend: str, corpus: Path, out: Path, workers: int, shard_bytes: int) -> dict[str, Any]:
    """(c): prepare_pretrain in a fresh process; returns tokens/s, prefixes and peak RSS."""
    code = (
        "import json,sys,time,resource\n"
        "from nano3.data_prep import *\n"
        f"cfg=PretrainDataConfig(artifact_name='bench', output_dir={str(out)!r}, "
        f"blend=[DatasetSpec(name='c', path={str(corpus)!r}, split='train')], "
        f"tokenizer=TokenizerSpec(source='gpt2', backend={backend!r}), "
        f"shard_bytes={shard_bytes},"
        f" parallel=ParallelSpec(num_workers={workers}, progress=False))\n"
        # CPU of this process and its (reaped) pool workers over the same interval as the
        # wall clock (interpreter start and imports excluded from both).
        "r=resource.getrusage\n"
        "cpu_now=lambda: sum(x.ru_utime+x.ru_stime for x in (r(resource.RUSAGE_SELF),"
        " r(resource.RUSAGE_CHILDREN)))\n"
        "c0=cpu_now(); t0=time.perf_counter(); a=prepare_pretrain(cfg)\n"
        "dt=time.perf_counter()-t0; cpu=cpu_now()-c0\n"
        "b=json.load(open(a.blend_path))['train'][1::2]\n"
        # VmHWM, not ru_maxrss: the latter keeps the forking bench's size across exec.
        "hwm=[int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "rss=max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(json.dumps({'tps': a.total_tokens/dt, 'tokens': a.total_tokens,"
        " 'prefixes': b, 'rss_mb': rss/1024, 'cpu_per_mtok': cpu/a.total_tokens*1e6}))\n")
    return run_child(code)


def same_bytes(prefixes: list[str], baseline: str) -> bool:
    """Our shards, concatenated in blend order, equal the baseline's .bin; one shard: .idx too."""
    ours_bin = b"".join(Path(p + ".bin").read_bytes() for p in prefixes)
    ok = ours_bin == Path(baseline + ".bin").read_bytes()
    if len(prefixes) == 1:
        ok = ok and Path(prefixes[0] + ".idx").read_bytes() == Path(baseline + ".idx").read_bytes()
    return ok


# (label, numerator row, denominator row, denominator factor (P: times P), target)
_RATIOS = [
    *[row for be in ("hf", "tiktoken") for row in (
        (f"ours(1)/raw [{be}]", f"ours1_{be}", f"raw_{be}", 1, ">= 0.9"),
        (f"ours(P)/(P*raw) [{be}]", f"oursP_{be}", f"raw_{be}", "P", ">= 0.8"))],
    ("ours(P)/megatron [hf]", "oursP_hf", "base_hf", 1, ">= 2"),
    ("ours(P, tiktoken)/megatron [hf]", "oursP_tiktoken", "base_hf", 1, ">= 5"),
    ("ours(P)/megatron [tiktoken]", "oursP_tiktoken", "base_tiktoken", 1, ""),
    *[row for be in ("hf", "tiktoken") for row in (
        (f"raw(P at once)/(P*raw) [{be}]", f"rawP_{be}", f"raw_{be}", "P", "this machine"),
        (f"ours(P)/raw(P at once) [{be}]", f"oursP_{be}", f"rawP_{be}", 1, ""))],
]


def _ratios(rounds: list[dict[str, dict[str, float]]], P: int) -> None:
    """The issue's targets, by wall clock (its definition) and by CPU time per token (which
    a shared machine's load does not skew: 1 / (CPU-s per token) is per-core throughput).
    With several rounds: the median over rounds, then [min to max]."""
    def fmt(values: list[float]) -> str:
        med = f"{statistics.median(values):6.3f}"  # 3 digits: targets sit at 2
        return med if len(values) == 1 else f"{med} [{min(values):.3f}-{max(values):.3f}]"

    width = 12 if len(rounds) == 1 else 27
    print(f"{'ratios':<37}{'wall':<{width}}{'per CPU-second':<{width + 5}}target")
    for label, num, den, factor, target in _RATIOS:
        k = P if factor == "P" else 1
        wall = [r[num]["tps"] / (k * r[den]["tps"]) for r in rounds]
        # tokens per CPU-second: 1 / (CPU-s per token); P processes get P CPU-seconds
        cpu = [r[den]["cpu_per_mtok"] / r[num]["cpu_per_mtok"] for r in rounds]
        print(f"  {label:<35}{fmt(wall):<{width}}{fmt(cpu):<{width + 5}}{target}")


def _measure(be: str, corpus: Path, root: Path, P: int, round_no: int,
             big_shard: int, p_shard: int, has_transformers: bool) -> dict[str, dict[str, float]]:
    """One round of every measurement of one backend; odd rounds run them in reverse order,
    so that a slow phase of a shared host does not always fall on the same side of a ratio."""
    tag = f"{be}_r{round_no}"
    steps: list[tuple[str, Any]] = [
        ("raw", lambda: raw_throughput(be, corpus)),
        ("ours1", lambda: ours(be, corpus, root / f"o1_{tag}", 1, big_shard)),
        ("oursP", lambda: ours(be, corpus, root / f"oP_{tag}", P, p_shard)),
        ("rawP", lambda: raw_at_once(be, corpus, P)),
        ("base", lambda: megatron_loop(be, corpus, str(root / f"base_{tag}"), P)),
    ]
    if be == "hf" and has_transformers:  # the same loop without Megatron's wrapper
        steps.append(("direct", lambda: megatron_loop(be, corpus, str(root / f"direct_{tag}"),
                                                      P, wrapper=False)))
    rows = {f"{k}_{be}": fn() for k, fn in (steps[::-1] if round_no % 2 else steps)}
    one, many = rows[f"ours1_{be}"], rows[f"oursP_{be}"]
    base = str(root / f"base_{tag}")
    ident = same_bytes(one["prefixes"], base) and same_bytes(many["prefixes"], base)
    print(f"[{be}, round {round_no + 1}] tokens={rows[f'raw_{be}']['tokens']:,}  "
          f"byte-identical-to-baseline={ident}  peak-rss(1)={one['rss_mb']:.0f}MB")
    for k, label in (("raw", "raw tokenizer"), ("rawP", f"raw, {P} at once"),
                     ("base", f"megatron loop (P={P})"), ("direct", "  same, no wrapper"),
                     ("ours1", "ours (1 worker)"), ("oursP", f"ours (P={P})")):
        if f"{k}_{be}" in rows:
            r = rows[f"{k}_{be}"]
            print(f"  {label:<22} {r['tps'] / 1e6:6.2f} M tokens/s   "
                  f"{r['cpu_per_mtok']:6.3f} CPU-s per M tokens")
    for d in (root / f"o1_{tag}", root / f"oP_{tag}"):  # 200 MB of output per round
        shutil.rmtree(d, ignore_errors=True)
    for prefix in (f"base_{tag}", f"direct_{tag}"):
        for ext in (".bin", ".idx"):
            (root / (prefix + ext)).unlink(missing_ok=True)
    if not ident:  # a fast wrong answer is no result: stop before any ratio is printed
        raise SystemExit(f"[{be}, round {round_no + 1}] our output differs from Megatron's "
                         "builder: no ratio is reported")
    return rows


def main() -> int:
    """Run all measurements and print one table per round plus the target ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mb", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat every measurement, alternating their order; ratios are the "
                         "median over rounds, with their spread")
    args = ap.parse_args()
    for name in ("size_mb", "workers", "rounds"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    P = args.workers
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-dp-") as tmp:
        root = Path(tmp)
        corpus, half = root / "corpus.jsonl", root / "half.jsonl"
        docs = make_corpus(corpus, args.size_mb)
        make_corpus(half, args.size_mb / 2)
        size_mb = corpus.stat().st_size / 1e6
        print(f"corpus: {size_mb:.1f} MB, {docs} documents, P={P} workers, "
              f"{args.rounds} round(s)")
        has_transformers = importlib.util.find_spec("transformers") is not None
        print("megatron loop [hf] tokenizes with " + (
            "megatron-core's HuggingFaceTokenizer (transformers)" if has_transformers else
            "the tokenizers library directly: transformers is not importable, so megatron-core's"
            " HuggingFaceTokenizer cannot be built (pip install transformers for it)"))
        nbytes = corpus.stat().st_size
        big_shard = 2 * nbytes  # one shard: compare with the baseline byte for byte
        # 4 equal byte ranges per worker (ceil: never a 4P+1-th sliver of a shard, which
        # would leave one worker idle at the end for reasons of this bench, not of ours)
        p_shard = -(-nbytes // (4 * P))
        rounds = []
        for n in range(args.rounds):
            rows: dict[str, dict[str, float]] = {}
            for be in ("hf", "tiktoken"):
                rows.update(_measure(be, corpus, root, P, n, big_shard, p_shard,
                                     has_transformers))
            rounds.append(rows)
        half_rss = ours("tiktoken", half, root / "half_out", 1, big_shard)["rss_mb"]
        full_rss = ours("tiktoken", corpus, root / "full_out", 1, big_shard)["rss_mb"]
        print(f"peak RSS, tiktoken 1 worker: {half_rss:.0f} MB at {size_mb / 2:.0f} MB corpus, "
              f"{full_rss:.0f} MB at {size_mb:.0f} MB corpus")
        _ratios(rounds, P)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
