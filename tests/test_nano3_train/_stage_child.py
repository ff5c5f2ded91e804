"""`python -m test_nano3_train._stage_child JOB.pkl`: run one stage function in a fresh process.

Every save goes through Megatron-Core's `dist_checkpointing`, whose writer starts a `spawn`
process that re-imports the main module; a test process's main (pytest, or the PEX Pants runs
it from) must never be re-imported, so training runs here. The job is a pickled
`{"stage", "cfg", "stop_at_step", "tokenizer"}`; the outcome is pickled to JOB.out.pkl:
`{"result": StageResult, "history": [(step, metrics), ...]}` or `{"error": (type name,
message, key_path)}` for a kit error.
"""
from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any


def main(job_path: str) -> int:
    from kit_config.errors import KitError
    from nano3.stages import PrintMetrics

    job: dict[str, Any] = pickle.loads(Path(job_path).read_bytes())
    sink = PrintMetrics(quiet=True)
    kwargs: dict[str, Any] = {"stop_at_step": job.get("stop_at_step")}
    from nano3.stages._pretrain import run_pretrain
    from nano3.stages._rl import run_rl
    from nano3.stages._sft import run_sft

    run: Any = {"pretrain": run_pretrain, "sft": run_sft, "rl": run_rl}[job["stage"]]
    if job["stage"] == "rl" and job.get("tokenizer"):
        from nano3.formats import load_tokenizer

        kwargs["tokenizer"] = load_tokenizer(job["tokenizer"])
    try:
        out: dict[str, Any] = {"result": run(job["cfg"], sink, **kwargs),
                               "history": sink.history}
    except KitError as exc:
        out = {"error": (type(exc).__name__, str(exc), getattr(exc, "key_path", None))}
    Path(job_path).with_suffix(".out.pkl").write_bytes(pickle.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
