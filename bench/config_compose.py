"""Benchmark: kit_config compose + typed structure vs Hydra's compose(), same files and overrides.

    python bench/config_compose.py [--keys 1000] [--overrides 100] [--repeat 15]

Writes a YAML config of KEYS leaf keys (in sections of 50, mixed int/float/str/bool/list)
plus OVERRIDES overrides of existing keys, then times, in the same process:
  ours:  kit_config.compose(file, overrides) + kit_config.structure(cfg, Typed)  (typed,
         validated: every value checked against attrs classes)
  hydra: hydra.compose(config_name, overrides) inside initialize_config_dir (untyped)
It also times `import kit_config` in fresh interpreters against a bare interpreter.
Prints medians and the ratio ours / hydra (target <= 1.0) and the import time (target <= 150 ms).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

SECTION = 50


def _value(i: int) -> Any:
    kind = i % 5
    if kind == 0:
        return i
    if kind == 1:
        return i / 7.0
    if kind == 2:
        return f"value_{i}"
    if kind == 3:
        return i % 2 == 0
    return [i, i + 1]


def _override_value(i: int) -> str:
    kind = i % 5
    return {0: str(i + 1), 1: f"{i / 3.0}", 2: f"new_{i}", 3: "true", 4: f"[{i},{i + 2}]"}[kind]


def _write_config(directory: Path, keys: int) -> dict[str, dict[str, Any]]:
    import yaml

    data: dict[str, dict[str, Any]] = {}
    for i in range(keys):
        data.setdefault(f"section_{i // SECTION}", {})[f"key_{i}"] = _value(i)
    (directory / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return data


def _overrides(keys: int, count: int) -> list[str]:
    step = max(keys // count, 1)
    out = []
    for n in range(count):
        i = (n * step) % keys
        out.append(f"section_{i // SECTION}.key_{i}={_override_value(i)}")
    return out


def _typed_classes(data: dict[str, dict[str, Any]]) -> type:
    import attrs

    types = {int: int, float: float, str: str, bool: bool, list: list[int]}
    sections = {}
    for name, values in data.items():
        fields = {k: attrs.field(type=types[type(v)]) for k, v in values.items()}
        sections[name] = attrs.make_class(f"S_{name}", fields)
    return attrs.make_class("Root", {n: attrs.field(type=c) for n, c in sections.items()})


def _median_time(fn: Any, repeat: int) -> float:
    fn()  # warm-up: parser construction, imports, cattrs code generation
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _import_time(module: str, runs: int) -> float:
    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t0

    bare = statistics.median(run("pass") for _ in range(runs))
    full = statistics.median(run(f"import {module}") for _ in range(runs))
    return max(full - bare, 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--overrides", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args(argv)

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import kit_config

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = _write_config(directory, args.keys)
        overrides = _overrides(args.keys, args.overrides)
        typed = _typed_classes(data)
        config_file = directory / "config.yaml"

        def ours() -> Any:
            return kit_config.structure(kit_config.compose(config_file, overrides), typed)

        with initialize_config_dir(config_dir=str(directory), version_base=None):

            def hydra() -> Any:
                return hydra_compose(config_name="config", overrides=overrides)

            # Same answer first: a faster wrong result would prove nothing.
            mine = kit_config.unstructure(ours())
            theirs = kit_config.to_container(hydra())
            theirs.pop("hydra", None)
            if mine != theirs:
                print("MISMATCH between kit_config and Hydra results", file=sys.stderr)
                return 1
            t_hydra = _median_time(hydra, args.repeat)
            t_ours = _median_time(ours, args.repeat)

    t_import = _import_time("kit_config", args.import_runs)
    print(f"config: {args.keys} keys, {args.overrides} overrides, median of {args.repeat}")
    print(f"hydra compose():                     {t_hydra * 1e3:8.1f} ms")
    print(f"kit_config compose()+structure():    {t_ours * 1e3:8.1f} ms")
    print(f"ratio ours/hydra: {t_ours / t_hydra:.2f}x (target <= 1.0x)")
    print(f"import kit_config: {t_import * 1e3:.0f} ms (target <= 150 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
