"""A tiny real stage for the CLI tests: a kit-track run that resolves inputs and publishes.

Run as `python -m test_kit_cli.demo_stage --config FILE`; config keys `fail`, `echo`, `sleep`
steer it (set them with `+fail=true` etc. on the CLI). Inside
`kit_track.start_run` it resolves the config (so `${art:...}` inputs are recorded as used),
writes `config.json` and `echo.txt` under `$NEMOTRON_HOME/demo-out/<run id>/`, and, when the
config has `publish: NAME`, publishes that folder as an artifact (its inputs: what it used).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Do the stage's work; exit 3 when the config says `fail: true`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from kit_config import load_config, to_container
    from kit_track import start_run

    raw = load_config(args.config)
    with start_run(stage="demo", config=raw) as run:
        config = to_container(raw)
        out = Path(os.environ["NEMOTRON_HOME"]) / "demo-out" / run.run_id
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, sort_keys=True))
        (out / "echo.txt").write_text(str(config.get("echo") or ""))
        (out / "env.json").write_text(json.dumps({
            k: os.environ.get(k) for k in ("NEMOTRON_RUN_ID", "NEMOTRON_ARTIFACTS_ROOT")}))
        time.sleep(float(config.get("sleep") or 0.0))
        if config.get("fail"):
            raise SystemExit(3)
        if config.get("publish"):
            from kit_artifacts import Artifact

            model = out / "model"
            model.mkdir(exist_ok=True)
            salt = os.environ.get("DEMO_SALT", "")  # tests make a rebuild differ with it
            (model / "weights.txt").write_text(f"trained on {config.get('data')}{salt}\n")
            Artifact(path=str(model), metadata={"steps": 1}).save(str(config["publish"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
