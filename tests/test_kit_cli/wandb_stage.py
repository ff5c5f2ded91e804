"""A tiny real stage for the W&B end-to-end tests: metrics, an input and a published model.

Run as `python -m test_kit_cli.wandb_stage --config FILE`. Inside `kit_track.start_run` (whose
trackers come from the config's `wandb:` section and the `WANDB_*` environment) it resolves
the config (`data: ${art:...}` is recorded as an input), logs three loss values and
publishes a `ModelArtifact` (the output).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Do the stage's work."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from kit_artifacts import ModelArtifact
    from kit_config import load_config, to_container
    from kit_track import start_run

    raw = load_config(args.config)
    with start_run(stage="wandb-demo", config=raw) as run:
        config = to_container(raw)
        out = Path(os.environ["NEMOTRON_HOME"]) / "wandb-out" / run.run_id
        out.mkdir(parents=True)
        (out / "weights.txt").write_text(f"trained on {config['data']}\n")
        for step in range(3):
            run.log_metrics({"loss": 3.0 - step}, step=step)
        ModelArtifact(path=out, step=3, loss=1.0).save("wandb-demo-model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
