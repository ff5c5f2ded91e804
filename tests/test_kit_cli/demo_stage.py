"""A tiny stage for the CLI tests: reads its config, writes a file, publishes an artifact.

Run as `python -m test_kit_cli.demo_stage --config FILE [--fail] [--echo ARG]`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Do the stage's work; exit 3 with `--fail`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--echo", default=None)
    args = parser.parse_args(argv)
    from kit_config import load_config, to_container

    config = to_container(load_config(args.config))
    out = Path(os.environ["NEMOTRON_HOME"]) / "demo-out" / os.environ.get("NEMOTRON_RUN_ID", "x")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, sort_keys=True))
    (out / "echo.txt").write_text(args.echo or "")
    if args.fail:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
