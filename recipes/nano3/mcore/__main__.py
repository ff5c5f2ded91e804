"""`python -m nano3.mcore SPEC.json`: one training run from a JSON spec (under torchrun,
`srun`, or alone). Used by the subprocess tests (kill -9 resume, 2-process gloo) and bench.

The spec: {"model": {...}, "optim": {...}, "trainer": {...}, "blend_path": str,
"output_dir": str, "stop_at_step": int | null}; with "pretrained": an iter_NNNNNNN folder, it
is SFT from that checkpoint on the packed Parquet of blend_path ("model" is then unused).
Rank 0 appends every metrics call to `<output_dir>/metrics.jsonl` and writes the result to
`<output_dir>/result.json`.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

from nano3.mcore._config import ModelShape, OptimSettings, TrainSettings
from nano3.mcore._dist import dist_env
from nano3.mcore._pretrain import train_pretrain
from nano3.mcore._sft import train_sft

__all__ = ["JsonlMetrics", "main"]


class JsonlMetrics:
    """Append one JSON object per metrics call (flushed, so a killed run keeps its lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    out = Path(spec["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    optim, trainer = OptimSettings(**spec.get("optim", {})), TrainSettings(**spec["trainer"])
    sink = JsonlMetrics(out / "metrics.jsonl")
    if spec.get("pretrained"):  # SFT from that pretrain checkpoint, on packed Parquet
        res = train_sft(Path(spec["pretrained"]), optim, trainer, Path(spec["blend_path"]), out,
                        sink, spec.get("stop_at_step"))
    else:
        res = train_pretrain(ModelShape(**spec["model"]), optim, trainer,
                             Path(spec["blend_path"]), out, sink, spec.get("stop_at_step"))
    if dist_env().rank == 0:
        (out / "result.json").write_text(json.dumps(
            {"checkpoint": res.checkpoint, "step": res.step, "final_loss": res.final_loss,
             "completed": res.completed, "metadata": res.metadata}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
