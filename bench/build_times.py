"""Build times a new user sees: a second launcher after a first, and `package ::` on a cold cache.

From a fresh `git clone` of this repository (the commit checked out here) in a temp folder,
with Pants' local store and named caches in empty folders of their own (the Pants install
itself, ~/.cache/pants/setup, is reused: that is installing the tool, not building the repo):

1. `./pants run recipes/nano3:data-prep-pretrain -- -c tiny`: the first launcher (cold: it
   resolves and builds the one launcher PEX), publishing the tiny pretrain data;
2. `./pants run recipes/nano3:pretrain -- -c tiny --dry-run`: another launcher right after
   (target <= 20 s; the ratio is against step 1 in the same run), and its warnings (target 0);
3. `./pants package ::` in a second pair of empty caches (target <= 300 s on 2 cores).

Pants runs with its daemon, as users run it (`--no-pantsd` turns it off); the daemon this
script started is stopped at the end. Other processes on the machine slow every step: the load
average is printed next to each time. Run:
`python bench/build_times.py [--no-pantsd] [--rev COMMIT] [--package-only|--skip-package]`;
a baseline is the same script with `--rev` at a commit before the change.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECOND_LAUNCHER_TARGET_S = 20.0
PACKAGE_TARGET_S = 300.0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f}"


def _pants(clone: Path, cache: Path, args: list[str], env: dict[str, str], pantsd: bool,
           ) -> tuple[float, str]:
    """Run `./pants ARGS` in the clone with its own caches; (seconds, stderr). Fails loudly."""
    cache_env = {
        "PANTS_LOCAL_STORE_DIR": str(cache / "lmdb_store"),
        "PANTS_NAMED_CACHES_DIR": str(cache / "named_caches"),
        "PANTS_PANTSD": "true" if pantsd else "false",
    }
    start = time.perf_counter()
    proc = subprocess.run(["./pants", *args], cwd=clone, env={**env, **cache_env},
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"`./pants {' '.join(args)}` failed ({proc.returncode}):\n"
                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def _stop_pantsd(clone: Path) -> None:
    """Stop the daemon started in the clone (by the pid it wrote), if any."""
    for pid_file in clone.glob(".pids/*/pantsd/pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            pass


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "[WARN]" in line or "[ERROR]" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-pantsd", action="store_true", help="run Pants without its daemon")
    parser.add_argument("--skip-package", action="store_true", help="only the launcher steps")
    parser.add_argument("--package-only", action="store_true", help="only `package ::`")
    parser.add_argument("--rev", default="HEAD",
                        help="commit to measure (e.g. a baseline before a build change)")
    opts = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    rev = subprocess.run(["git", "rev-parse", opts.rev], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="kit-build-times-") as tmp_name:
        tmp = Path(tmp_name)
        clone = tmp / "repo"
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(repo), str(clone)],
                       check=True)
        subprocess.run(["git", "checkout", "--quiet", rev], cwd=clone, check=True)
        env = {**os.environ, "NEMOTRON_HOME": str(tmp / "home"), "NO_SCIE_WARNING": "1"}
        pantsd = not opts.no_pantsd
        print(f"fresh clone of {rev[:10]} in {clone}; pantsd {'on' if pantsd else 'off'}")
        try:
            if not opts.package_only:
                _launchers(clone, tmp, env, pantsd)
            if not opts.skip_package:
                _stop_pantsd(clone)
                print(f"3. ./pants package :: (cold caches) ... {_load()}", flush=True)
                package, _ = _pants(clone, tmp / "cache-package", ["package", "::"], env,
                                    pantsd)
                print(f"   {package:7.1f} s  {_load()}  = {package / PACKAGE_TARGET_S:.2f}x the"
                      f" {PACKAGE_TARGET_S:.0f} s target:"
                      f" {'ok' if package <= PACKAGE_TARGET_S else 'MISSED'}")
        finally:
            _stop_pantsd(clone)


def _launchers(clone: Path, tmp: Path, env: dict[str, str], pantsd: bool) -> None:
    """Steps 1 and 2: a first launcher on cold caches, then another one."""
    print(f"1. first launcher (cold caches) ... {_load()}", flush=True)
    first, _ = _pants(clone, tmp / "cache-run",
                      ["run", "recipes/nano3:data-prep-pretrain", "--", "-c", "tiny"],
                      env, pantsd)
    print(f"   {first:7.1f} s  {_load()}")
    print("2. second launcher (pretrain --dry-run) ...", flush=True)
    second, stderr = _pants(clone, tmp / "cache-run",
                            ["run", "recipes/nano3:pretrain", "--", "-c", "tiny",
                             "--dry-run"], env, pantsd)
    warnings = _warnings(stderr)
    print(f"   {second:7.1f} s  {_load()}  = {second / first:.2f}x the first launcher;"
          f" target <= {SECOND_LAUNCHER_TARGET_S:.0f} s:"
          f" {'ok' if second <= SECOND_LAUNCHER_TARGET_S else 'MISSED'};"
          f" {len(warnings)} warning(s)")
    for line in warnings:
        print(f"     {line}")


if __name__ == "__main__":
    main()
