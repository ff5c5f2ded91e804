"""Benchmark: integrity hashing throughput (XXH3-128, our thread pool) vs `sha256sum`.

Creates FILES x SIZE_MB of random data in a temp dir, reads it once so it is page-cached,
then hashes the same files with: our manifest code on 1 worker (per-core speed) and on the
default pool, Python's hashlib.sha256, BLAKE3 (if installed), and the `sha256sum` tool.

    python bench/artifacts_hashing.py                 # 8 files x 32 MB
    python bench/artifacts_hashing.py --files 16 --size-mb 128

Target (issue 4): >= 2 GB/s per core on page-cached files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kit_artifacts._integrity import compute_manifest


def _timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) over `repeat` runs; CPU includes child processes."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def _hashlib_all(paths: list[Path], make: Callable[[], hashlib._Hash]) -> None:
    for path in paths:
        h = make()
        with open(path, "rb", buffering=0) as fh:
            while chunk := fh.read(8 << 20):
                h.update(chunk)
        h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--size-mb", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kit-hash-") as tmp:
        root = Path(tmp)
        chunk = os.urandom(1 << 20)
        paths = []
        for i in range(args.files):
            path = root / f"shard_{i:04d}.bin"
            with open(path, "wb") as fh:
                for _ in range(args.size_mb):
                    fh.write(chunk)
            paths.append(path)
        total = args.files * args.size_mb * (1 << 20)
        for path in paths:  # page-cache everything
            path.read_bytes()
        gb = total / 1e9
        rows: list[tuple[str, tuple[float, float]]] = []
        rows.append(
            (
                "xxh3_128, 1 thread (per core)",
                _timed(lambda: compute_manifest(str(root), workers=1)),
            )
        )
        rows.append(("xxh3_128, default pool", _timed(lambda: compute_manifest(str(root)))))
        rows.append(
            ("hashlib.sha256, 1 thread", _timed(lambda: _hashlib_all(paths, hashlib.sha256), 1))
        )
        try:
            import blake3  # pants: no-infer-dep (optional comparison)

            rows.append(("blake3, 1 thread", _timed(lambda: _hashlib_all(paths, blake3.blake3), 1)))  # type: ignore[arg-type]
        except ImportError:
            pass
        tool = shutil.which("sha256sum")
        if tool:
            cmd = [tool, *map(str, paths)]
            rows.append(
                (
                    "sha256sum (coreutils)",
                    _timed(lambda: subprocess.run(cmd, check=True, capture_output=True), 1),
                )
            )
        print(
            f"{args.files} files x {args.size_mb} MB = {total / 1e6:.0f} MB, page-cached, "
            f"{os.cpu_count()} CPUs"
        )
        sha_tool = dict(rows).get("sha256sum (coreutils)")
        print(f"  {'':<32} {'wall GB/s':>10} {'GB/CPU-s':>10} {'vs sha256sum (CPU)':>20}")
        for label, (wall, cpu) in rows:
            ratio = f"{sha_tool[1] / cpu:18.1f}x" if sha_tool else ""
            print(f"  {label:<32} {gb / wall:10.2f} {gb / cpu:10.2f} {ratio}")
        per_core = gb / rows[0][1][1]
        print(
            f"per-core XXH3 throughput: {per_core:.2f} GB per CPU-second, wall "
            f"{gb / rows[0][1][0]:.2f} GB/s on one thread (target >= 2 GB/s per core): "
            f"{'OK' if per_core >= 2 else 'MISSED'}"
        )
        print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
