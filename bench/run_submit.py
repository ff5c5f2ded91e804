"""Submission latency (process start -> job accepted by Slurm): kit-run vs plain NeMo-Run.

Each sample is a fresh Python process that submits one detached `true`-like job to the
local Slurm (LocalTunnel) and exits once sbatch accepted it; both sides run in this same
run, alternating, and the ratio of medians is printed (target: kit-run <= 1.2x NeMo-Run).
Needs .ci/services/slurm-up. Usage: python bench/run_submit.py [--samples N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

KIT = """
import sys, kit_run
p = kit_run.profile_from_mapping("b", {"executor": "slurm", "account": "kit", "partition": "debug"})
h = kit_run.submit(kit_run.JobSpec("bench", [sys.executable, "-c", "pass"]), p, attached=False)
print(h.scheduler_id)
"""
NEMO = """
import sys, nemo_run as run
ex = run.SlurmExecutor(account="kit", partition="debug", tunnel=run.LocalTunnel(job_dir=""),
                       packager=run.Packager())
with run.Experiment("bench", executor=ex, log_level="ERROR") as exp:
    exp.add(run.Script(inline=sys.executable + " -c pass"), name="bench")
    exp.run(detach=True)
"""


def _time(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                   timeout=600)
    return time.perf_counter() - start


def main() -> None:
    """Alternate kit-run and NeMo-Run submissions and print medians and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NEMOTRON_HOME": f"{tmp}/home", "NEMORUN_HOME": f"{tmp}/nemorun"}
        kit, nemo = [], []
        for _ in range(args.samples):
            kit.append(_time(KIT, env))
            nemo.append(_time(NEMO, env))
    k, n = statistics.median(kit), statistics.median(nemo)
    print(f"kit-run  submit median {k:.3f}s  samples {[round(x, 3) for x in kit]}")
    print(f"NeMo-Run submit median {n:.3f}s  samples {[round(x, 3) for x in nemo]}")
    print(f"ratio kit-run/NeMo-Run = {k / n:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
