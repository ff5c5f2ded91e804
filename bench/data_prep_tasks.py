"""Benchmark: pretrain data prep as 1 task vs N tasks (Slurm's multi-task job), same corpus.

Each task runs `prepare_pretrain` with one worker and its rank from `SLURM_PROCID` /
`SLURM_NTASKS` (what `srun` sets), exactly as `python -m nano3.data_prep.pretrain` does in
an N-task job: every task tokenizes the byte-range shards `index % N == rank`, writes its
own shard files and receipts; rank 0 waits for every receipt, writes `blend.json` and
returns the artifact once. With a Slurm controller answering (`sinfo`; `.ci/services/slurm-up`
starts one), each run is one real `srun --ntasks=N` job step on the cluster's partition;
without one, the N tasks are N local processes with those variables set, started together
(`--tasks`, default 2): the same code path, on one machine. Prints tokens/s (corpus tokens /
wall clock from the launch to the last task's exit, so srun's step start counts),
CPU-seconds per million tokens (every task's own user + system time, summed), the N-task
speed-up, the load average, and checks that the N-task output is byte-identical to the
1-task output.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from data_prep_tokenize import make_corpus

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_TASK = (
    "import json,resource,sys\n"
    "from nano3.data_prep import *\n"
    "cfg=PretrainDataConfig(artifact_name='bench', output_dir=sys.argv[1], "
    "blend=[DatasetSpec(name='c', path=sys.argv[2], split='train')], "
    "tokenizer=TokenizerSpec(source='gpt2', backend=sys.argv[3]), shard_bytes=int(sys.argv[4]),"
    " parallel=ParallelSpec(num_workers=1, progress=False))\n"
    "a=prepare_pretrain(cfg)\n"
    "u=resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(json.dumps({'cpu': u.ru_utime+u.ru_stime, 'artifact': None if a is None else"
    " {'tokens': a.total_tokens, 'path': a.path}}))\n"
)


def run_tasks(ntasks: int, corpus: Path, out: Path, backend: str, shard_bytes: int,
              slurm: bool) -> dict[str, float | str]:
    """Run `ntasks` tasks together (one srun step, or local processes); wall clock until
    all exit, CPU of all (each task reports its own)."""
    argv = [sys.executable, "-c", _TASK, str(out), str(corpus), backend, str(shard_bytes)]
    t0 = time.perf_counter()
    if slurm:  # srun sets SLURM_PROCID/SLURM_NTASKS per task, as in a batch job's step
        res = subprocess.run(["srun", f"--ntasks={ntasks}", "--cpus-per-task=1",
                              "--export=ALL", "--time=30", *argv],
                             capture_output=True, text=True)
        codes, text = [res.returncode], res.stdout
        if res.returncode:
            print(res.stderr[-2000:], file=sys.stderr)
    else:
        procs = [subprocess.Popen(
            argv, env={**os.environ, "SLURM_PROCID": str(rank), "SLURM_NTASKS": str(ntasks)},
            stdout=subprocess.PIPE, text=True) for rank in range(ntasks)]
        text = "".join(p.communicate()[0] for p in procs)
        codes = [p.returncode for p in procs]
    wall = time.perf_counter() - t0
    if any(codes):
        raise SystemExit(f"a task failed: exit codes {codes}")
    reports = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    if len(reports) != ntasks:
        raise SystemExit(f"expected {ntasks} task reports, got {len(reports)}")
    art = next(r["artifact"] for r in reports if r["artifact"])  # rank 0 publishes
    cpu = sum(r["cpu"] for r in reports)
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
    print("tasks run as " + ("srun job steps on the Slurm cluster" if slurm else
                             "local processes with SLURM_PROCID/SLURM_NTASKS (no Slurm answers)"))
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-dp-tasks-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus.jsonl"
        make_corpus(corpus, args.size_mb)
        shard = -(-corpus.stat().st_size // (4 * args.tasks))  # 4 equal shards per task
        rows = {n: run_tasks(n, corpus, root / f"t{n}", args.backend, shard, slurm)
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
