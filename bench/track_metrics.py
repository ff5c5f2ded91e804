"""Benchmark: cost of logging metrics through a kit run (FileTracker) vs a bare JSONL append.

Baseline, in the same run: the least a file logger can do (open once, json.dumps + write
per step). The kit path adds the run fan-out, the failure-policy guard, NaN handling and
a per-call open/append (so ranks and crashes never leave a half-written buffered line).

    python bench/track_metrics.py [--steps 5000] [--keys 8]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def baseline(path: Path, steps: int, keys: int) -> float:
    """Seconds to append `steps` metric lines with one open file handle."""
    values = {f"m{k}": 0.5 for k in range(keys)}
    started = time.perf_counter()
    with path.open("a", encoding="utf-8") as fh:
        for step in range(steps):
            fh.write(json.dumps({"step": step, "metrics": values}) + "\n")
    return time.perf_counter() - started


def kit(root: Path, steps: int, keys: int) -> tuple[float, float]:
    """(start+finish seconds, logging seconds) for a kit run with the FileTracker."""
    import kit_track

    values = {f"m{k}": 0.5 for k in range(keys)}
    started = time.perf_counter()
    with kit_track.start_run(stage="bench", config={"steps": steps},
                             trackers=[kit_track.FileTracker(root)]) as run:
        opened = time.perf_counter()
        for step in range(steps):
            run.log_metrics(values, step=step)
        logged = time.perf_counter()
    finished = time.perf_counter()
    return (opened - started) + (finished - logged), logged - opened


def main() -> None:
    """Run both, print per-step costs and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NEMOTRON_HOME"] = tmp
        base = baseline(Path(tmp) / "baseline.jsonl", args.steps, args.keys)
        overhead, logging_s = kit(Path(tmp) / "runs", args.steps, args.keys)
    per_base = base / args.steps * 1e6
    per_kit = logging_s / args.steps * 1e6
    print(f"steps={args.steps} keys={args.keys}")
    print(f"baseline bare JSONL append : {per_base:8.1f} us/step")
    print(f"kit run (FileTracker)      : {per_kit:8.1f} us/step")
    print(f"start_run + finish         : {overhead * 1000:8.1f} ms")
    print(f"ratio kit/baseline         : {per_kit / per_base:8.2f}x")


if __name__ == "__main__":
    main()
