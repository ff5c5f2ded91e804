"""`pants run recipes/nano3:pipeline`: data prep -> pretrain -> SFT -> RL, then the lineage.

Runs every nano3 stage through kit-cli's one stage runner, in dependency order, each stage
starting only after the one that produces its input has published it. It ends by printing
the lineage tree of the final model, read from the registry alone.

    pipeline [-c CONFIG] [--run PROFILE] [overrides applied to every stage are not offered:
    each stage has its own config schema]

With no arguments it runs the `tiny` configs locally, on the embedded defaults: no env.toml,
no W&B, no network.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from kit_cli import run_stage

from nano3.recipe import RECIPE

__all__ = ["PIPELINE", "final_model_name", "main", "run_pipeline"]

# (stage as the CLI names it, what it publishes): the order is the dependency order.
PIPELINE: tuple[tuple[str, str], ...] = (
    ("data prep pretrain", "nano3-pretrain-data"),
    ("data prep sft", "nano3-sft-data"),
    ("data prep rl", "nano3-rl-data"),
    ("pretrain", "nano3-pretrain-model"),
    ("sft", "nano3-sft-model"),
    ("rl", "nano3-rl-model"),
)


def final_model_name(config: str) -> str:
    """Registry name of the pipeline's last artifact: the RL model (`-tiny` for tiny runs)."""
    base = PIPELINE[-1][1]
    return base if config == "default" else f"{base}-{config}"


def run_pipeline(config: str, profile: str | None = None) -> int:
    """Run every stage in order; stop at the first failure and return its exit code."""
    timings: list[tuple[str, float]] = []
    for stage, _publishes in PIPELINE:
        argv = ["-c", config]
        if profile is not None:
            argv += ["--run", profile]
        print(f"\n=== nano3 pipeline: {stage} ({config}) ===", flush=True)
        start = time.perf_counter()
        code = run_stage(RECIPE, stage, argv)
        timings.append((stage, time.perf_counter() - start))
        if code != 0:
            print(f"nano3 pipeline: stage '{stage}' failed with exit code {code}; "
                  "later stages were not started", file=sys.stderr)
            return code
    print("\n=== nano3 pipeline: wall time per stage ===")
    for stage, seconds in timings:
        print(f"{stage:<22} {seconds:8.1f} s")
    print(f"{'total':<22} {sum(s for _, s in timings):8.1f} s")
    return 0


def _print_lineage(name: str) -> int:
    from kit_cli.main import main as nemotron

    print(f"\n=== lineage of art://{name}:latest ===", flush=True)
    try:
        nemotron(["art", "lineage", f"art://{name}:latest"])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the pipeline's few options and run it; exits with the first failing code."""
    parser = argparse.ArgumentParser(prog="nano3-pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default="tiny",
                        help="config name used for every stage (default: tiny)")
    parser.add_argument("-r", "--run", dest="profile", default=None,
                        help="env.toml profile to run each stage on (attached, in order)")
    args = parser.parse_args(argv)
    code = run_pipeline(args.config, args.profile)
    if code == 0:
        code = _print_lineage(final_model_name(args.config))
    sys.exit(code)


if __name__ == "__main__":
    main()
