"""The training loop every local-backend stage shares: resume, schedule, checkpoints, timing.

A stage supplies `step_fn` (forward + backward of one optimizer step's micro-batches on this
replica; returns its metrics) and `eval_fn` (held-out metrics of the bare model). Randomness
is re-seeded from (seed, step, rank) at each step, so a run resumed at step N draws exactly
what the uninterrupted run drew.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nano3.stages._checkpoint import find_latest_checkpoint, load_training_state, save_checkpoint
from nano3.stages._config import OptimizerConfig, TrainerConfig
from nano3.stages._result import MetricsSink, StageResult
from nano3.stages._runtime import Runtime, all_mean, build_optimizer, freeze_untrainable, lr_at

__all__ = ["LoopSpec", "run_loop"]

StepFn = Callable[[torch.nn.Module, int], dict[str, float]]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]


@dataclass
class LoopSpec:
    """Everything the shared loop needs from a stage."""

    stage: str
    output_dir: Path
    trainer: TrainerConfig
    optimizer: OptimizerConfig
    resume_key: str
    model_info: dict[str, Any]
    primary_eval: str  # the eval metric that becomes initial_loss / final_loss ("" = none)


def run_loop(rt: Runtime, spec: LoopSpec, model: torch.nn.Module, step_fn: StepFn,
             eval_fn: EvalFn, sink: MetricsSink, *, stop_at_step: int | None = None
             ) -> StageResult:
    """Train `model` to `trainer.max_steps`, resuming from the newest matching checkpoint."""
    tr = spec.trainer
    trainable = freeze_untrainable(model, spec.optimizer.trainable, spec.stage)
    opt = build_optimizer(model, spec.optimizer)
    state: dict[str, Any] = {"resume_key": spec.resume_key, "tokens_seen": 0, "train_seconds": 0.0}
    ckpt = find_latest_checkpoint(spec.output_dir) if tr.resume else None
    start = 0
    if ckpt is not None:
        state = load_training_state(ckpt, model, opt, spec.resume_key)
        start = int(state["step"])
        if rt.is_main:
            print(f"[{spec.stage}] resumed from {ckpt} at step {start}", flush=True)
        state["resumed_from_step"] = start
    else:
        torch.manual_seed(tr.seed)
        state["initial_eval"] = eval_fn(model)
        if rt.is_main:
            sink.log_metrics({f"eval/{k}": v for k, v in state["initial_eval"].items()}, 0)
    ddp = rt.wrap(model)
    last: dict[str, float] = {}
    step = start
    for step in range(start, tr.max_steps):
        lr = lr_at(spec.optimizer, step, tr.max_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        torch.manual_seed(tr.seed * 1_000_003 + step * 7919 + rt.rank)
        t0 = time.perf_counter()
        ddp.train()
        metrics = step_fn(ddp, step)
        if spec.optimizer.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(ddp.parameters(), spec.optimizer.clip_grad)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if rt.device.type == "cuda":
            torch.cuda.synchronize(rt.device)
        elapsed = time.perf_counter() - t0
        keys = sorted(metrics)
        averaged = dict(zip(keys, all_mean(rt, [metrics[k] for k in keys]), strict=True))
        tokens = int(round(averaged.pop("tokens", 0.0) * rt.world_size))
        state["tokens_seen"] = int(state["tokens_seen"]) + tokens
        state["train_seconds"] = float(state["train_seconds"]) + elapsed
        if "first_train" not in state:
            state["first_train"] = averaged
        last = averaged
        done = step + 1
        if rt.is_main and (done % tr.log_every == 0 or done == tr.max_steps or done == 1):
            sink.log_metrics({**{f"train/{k}": v for k, v in averaged.items()}, "lr": lr,
                              "tokens_per_sec": tokens / max(elapsed, 1e-9)}, done)
        stopping = stop_at_step is not None and done >= stop_at_step
        if done % tr.checkpoint_every == 0 or done == tr.max_steps or stopping:
            if rt.is_main:
                save_checkpoint(spec.output_dir, done, model, opt, state, spec.model_info,
                                tr.keep_checkpoints)
            rt.barrier()
        if stopping:
            return StageResult("", done, None, completed=False)
    step = tr.max_steps
    torch.manual_seed(tr.seed)
    final_eval = eval_fn(model)
    if rt.is_main:
        sink.log_metrics({f"eval/{k}": v for k, v in final_eval.items()}, step)
    ckpt_dir = find_latest_checkpoint(spec.output_dir)
    initial_eval: dict[str, float] = state.get("initial_eval", {})
    tps = float(state["tokens_seen"]) / max(float(state["train_seconds"]), 1e-9)
    meta: dict[str, Any] = {
        "stage": spec.stage,
        "backend": "local",
        "device": rt.device.type,
        "world_size": rt.world_size,
        "trainable_parameters": trainable,
        "tokens_seen": int(state["tokens_seen"]),
        "tokens_per_sec": round(tps, 2),
        "train_seconds": round(float(state["train_seconds"]), 3),
        "resumed_from_step": state.get("resumed_from_step"),
        "resume_key": spec.resume_key,
        **{f"initial_{k}": v for k, v in initial_eval.items()},
        **{f"final_{k}": v for k, v in final_eval.items()},
        **{f"first_train_{k}": v for k, v in state.get("first_train", {}).items()},
        **{f"last_train_{k}": v for k, v in last.items()},
    }
    final_loss = None
    if spec.primary_eval:
        meta["initial_loss"] = initial_eval.get(spec.primary_eval)
        final_loss = final_eval.get(spec.primary_eval)
    return StageResult(str(ckpt_dir) if ckpt_dir else "", step, final_loss, True, meta)
