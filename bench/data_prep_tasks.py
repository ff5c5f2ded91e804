"""Benchmark: pretrain data prep as 1 task vs N tasks (Slurm's multi-task job), same corpus.

Each task runs `prepare_pretrain` with one worker and its rank from `SLURM_PROCID` /
`SLURM_NTASKS` (what `srun` sets), exactly as `python -m nano3.data_prep.pretrain` does in
an N-task job: every task tokenizes the byte-range shards `index % N == rank`, writes its
own shard files and receipts; rank 0 waits for every receipt, writes `blend.json` and
returns the artifact once. Without a running Slurm (`sinfo` fails) the N tasks are N local
processes with those variables set, started together (`--tasks`, default 2): the same code
path, on one machine. Prints tokens/s (corpus tokens / wall clock from the first task's
start to rank 0's return), CPU-seconds per million tokens (all tasks together), the N-task
speed-up, the load average, and checks that the N-task output is byte-identical to the
1-task output.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from data_prep_tokenize import make_corpus

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_TASK = (
    "import json,sys\n"
    "from nano3.data_prep import *\n"
    "cfg=PretrainDataConfig(artifact_name='bench', output_dir=sys.argv[1], "
    "blend=[DatasetSpec(name='c', path=sys.argv[2], split='train')], "
    "tokenizer=TokenizerSpec(source='gpt2', backend=sys.argv[3]), shard_bytes=int(sys.argv[4]),"
    " parallel=ParallelSpec(num_workers=1, progress=False))\n"
    "a=prepare_pretrain(cfg)\n"
    "print(json.dumps(None if a is None else {'tokens': a.total_tokens, 'path': a.path}))\n"
)


def run_tasks(ntasks: int, corpus: Path, out: Path, backend: str,
              shard_bytes: int) -> dict[str, float | str]:
    """Start `ntasks` task processes together; wall clock until all exit, CPU of all."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-c", _TASK, str(out), str(corpus), backend, str(shard_bytes)],
        env={**os.environ, "SLURM_PROCID": str(rank), "SLURM_NTASKS": str(ntasks)},
        stdout=subprocess.PIPE, text=True) for rank in range(ntasks)]
    outs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        raise SystemExit(f"a task failed: exit codes {[p.returncode for p in procs]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    art = json.loads(outs[0].strip().splitlines()[-1])  # rank 0 publishes
    return {"tokens": art["tokens"], "path": art["path"], "tps": art["tokens"] / wall,
            "cpu_per_mtok": cpu / art["tokens"] * 1e6, "wall": wall}


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every shard file of a run (bin/idx), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.suffix in (".bin", ".idx")}


def main() -> int:
    """Run 1 task, then N tasks, on the same corpus; print both and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mb", type=float, default=20.0)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--backend", choices=("tiktoken", "hf"), default="tiktoken")
    args = ap.parse_args()
    slurm = subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0 \
        if any(Path(d, "sinfo").exists() for d in os.get_exec_path()) else False
    print(f"Slurm controller reachable: {slurm} (tasks are local processes with "
          "SLURM_PROCID/SLURM_NTASKS either way)")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-dp-tasks-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus.jsonl"
        make_corpus(corpus, args.size_mb)
        shard = int(args.size_mb * 1e6 / (4 * args.tasks)) + 1  # 4 shards per task
        rows = {n: run_tasks(n, corpus, root / f"t{n}", args.backend, shard)
                for n in (1, args.tasks)}
        same = tree_bytes(Path(str(rows[1]["path"]))) == \
            tree_bytes(Path(str(rows[args.tasks]["path"])))
        print(f"corpus {corpus.stat().st_size / 1e6:.0f} MB, {args.backend}, "
              f"{rows[1]['tokens']:,} tokens, shards of {shard / 1e6:.1f} MB")
        for n, r in rows.items():
            print(f"  {n} task(s): {float(r['tps']) / 1e6:6.2f} M tokens/s  "
                  f"{float(r['wall']):6.1f} s  {float(r['cpu_per_mtok']):6.3f} CPU-s per M tokens")
        one, many = rows[1], rows[args.tasks]
        print(f"  speed-up {args.tasks} tasks / 1 task = "
              f"{float(many['tps']) / float(one['tps']):.2f} (ideal {args.tasks})   "
              f"CPU-s per token {args.tasks} tasks / 1 task = "
              f"{float(many['cpu_per_mtok']) / float(one['cpu_per_mtok']):.2f} (ideal 1)   "
              f"byte-identical: {same}")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
