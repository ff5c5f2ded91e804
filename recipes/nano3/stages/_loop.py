"""The training loop every stage shares, on Megatron-Core.

Megatron-Core does the training: `GPTModel`, its `DistributedDataParallel`,
`get_megatron_optimizer`, `OptimizerParamScheduler`, `get_forward_backward_func()` and
`dist_checkpointing`. This loop orders those calls, resumes, logs and saves; a stage plugs in
a `Task`: its forward step (Megatron's contract), the micro batches of a step, and its
held-out evaluation. Rank and world come from torchrun or Slurm; only rank 0 logs.
"""
from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from nano3.stages._checkpoint import (
    check_resumable,
    clear_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    read_saved_model,
    save_checkpoint,
)
from nano3.stages._config import ModelConfig, OptimizerConfig, TrainerConfig
from nano3.stages._cpu_compat import apply_cpu_compat
from nano3.stages._dist import dist_env, init_distributed, shutdown_distributed
from nano3.stages._megatron import build_model, build_optimizer, wrap_ddp
from nano3.stages._result import MetricsSink, StageResult
from nano3.stages.errors import StageConfigError

__all__ = ["Batches", "Context", "LoopSpec", "Task", "forward_backward", "freeze_untrainable",
           "held_out_loss", "mean_over_ranks",
           "micro_batches", "run_loop"]

Batch = dict[str, torch.Tensor]
# Megatron's forward-step contract: (data_iterator, model) -> (output, loss_func).
ForwardStep = Callable[[Iterator[Batch], Any], Any]


@attrs.frozen
class Batches:
    """One optimizer step's micro batches on this rank and what they count."""

    micro: list[Batch]
    tokens: int  # tokens this rank trains on in the step (for tokens/s)
    metrics: dict[str, float] = attrs.Factory(dict)  # the step's own metrics (RL: reward)


@attrs.frozen
class Task:
    """What a stage plugs into the loop."""

    forward_step: ForwardStep
    batches: Callable[[int], Batches]  # the step's micro batches (a pure function of step)
    evaluate: Callable[[], dict[str, float]]  # held-out metrics ({} when there is none)


@attrs.frozen
class Context:
    """Where the run is, handed to `LoopSpec.make_task` once the model exists."""

    rank: int
    world_size: int
    device: torch.device
    ddp: Any  # Megatron's DistributedDataParallel around the GPTModel


@attrs.frozen
class LoopSpec:
    """One stage's run: settings, where it saves, and how it makes its task."""

    stage: str
    output_dir: Path
    model: ModelConfig
    optimizer: OptimizerConfig
    trainer: TrainerConfig
    info: dict[str, Any]  # facts saved in model_config.json (tokenizer, eod_id, data, ...)
    resume_key: str  # digest of the settings a checkpoint must match to be resumed
    primary_eval: str  # eval metric that is the model's loss ("" = last train loss)
    make_task: Callable[[Context], Task]
    init_weights: Path | None = None  # checkpoint a fresh run starts from (SFT, RL)
    packed: bool = False  # batches carry their own attention masks (see build_model)


def _use_cuda(device: str) -> bool:
    if device == "cuda" and not torch.cuda.is_available():
        raise StageConfigError("train", "trainer.device", "cuda, but CUDA is not available "
                               "here (set it to auto or cpu)")
    return device in ("auto", "cuda") and torch.cuda.is_available()


# What a model reads of a sample (GPTDataset items carry more, e.g. a numpy dataset id);
# attention_mask only where the data has one (packed SFT: conversations never attend across).
_BATCH_KEYS = ("tokens", "labels", "loss_mask", "position_ids", "attention_mask")


def micro_batches(dataset: Any, step: int, mbs: int, n_micro: int, ctx: Context) -> list[Batch]:
    """One step's micro batches of an indexable dataset for one rank: sample indices are a
    pure function of the step, so a resumed run reads exactly what the killed one would."""
    per_rank = mbs * n_micro
    base = step * per_rank * ctx.world_size + ctx.rank * per_rank
    out = []
    for m in range(n_micro):
        items = [dataset[base + m * mbs + i] for i in range(mbs)]
        out.append({k: torch.stack([it[k] for it in items]).to(ctx.device)
                    for k in _BATCH_KEYS if k in items[0]})
    return out


def mean_over_ranks(values: list[float], device: torch.device) -> list[float]:
    """Average a few floats over the data-parallel ranks (identity alone)."""
    if not (torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return [v / torch.distributed.get_world_size() for v in t.tolist()]


def forward_backward(task: Task, ddp: Any, micro: list[Batch], forward_only: bool) -> float:
    """Megatron's schedule over the micro batches; returns their mean loss over all ranks."""
    from megatron.core.pipeline_parallel import get_forward_backward_func

    first = next(iter(micro[0].values()))
    outs = get_forward_backward_func()(
        forward_step_func=task.forward_step, data_iterator=iter(micro), model=[ddp],
        num_microbatches=len(micro), seq_length=int(first.shape[1]),
        micro_batch_size=int(first.shape[0]), forward_only=forward_only)
    loss = float(torch.stack([o["loss"] for o in outs]).mean())
    return mean_over_ranks([loss], first.device)[0]


def held_out_loss(task: Task, ctx: Context, dataset: Any, mbs: int, n_batches: int
                  ) -> dict[str, float]:
    """{"loss": mean loss over `n_batches` micro batches of `dataset`} ({} without one)."""
    if dataset is None or n_batches == 0:
        return {}
    ctx.ddp.eval()
    with torch.no_grad():
        micro = micro_batches(dataset, 0, mbs, n_batches, ctx)
        loss = forward_backward(task, ctx.ddp, micro, forward_only=True)
    ctx.ddp.train()
    return {"loss": loss}


def freeze_untrainable(model: torch.nn.Module, patterns: list[str], stage: str) -> int:
    """Freeze every parameter whose name matches none of `patterns`; returns the trainable
    count. Megatron's DDP and optimizer leave frozen parameters out. A pattern that matches
    nothing is a config mistake (a typo would freeze the whole model), named with real names."""
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unmatched:
        raise StageConfigError(stage, "optimizer.trainable",
                               f"{', '.join(map(repr, unmatched))} match(es) no parameter; "
                               f"names look like {', '.join(names[:2])}, {names[-1]}")
    for name, p in model.named_parameters():
        p.requires_grad_(any(fnmatch.fnmatchcase(name, pat) for pat in patterns))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _log_eval(sink: MetricsSink, rank: int, metrics: dict[str, float], step: int) -> None:
    if rank == 0 and metrics:
        sink.log_metrics({f"eval/{k}": v for k, v in metrics.items()}, step)


def run_loop(spec: LoopSpec, sink: MetricsSink, stop_at_step: int | None = None
             ) -> StageResult:
    """Train to `trainer.max_steps` (resuming the newest matching save); `stop_at_step` ends
    early right after a save (resume tests)."""
    from megatron.core.distributed import finalize_model_grads
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    tr = spec.trainer
    use_cuda = _use_cuda(tr.device)
    if tr.num_threads > 0:
        torch.set_num_threads(tr.num_threads)
    de = dist_env()
    device = torch.device("cuda", de.local_rank) if use_cuda else torch.device("cpu")
    ckpt_root = spec.output_dir / "checkpoints"
    with apply_cpu_compat():
        init_distributed(de, use_cuda)
        try:
            torch.manual_seed(tr.seed)
            model_parallel_cuda_manual_seed(tr.seed)
            last = latest_checkpoint(ckpt_root) if tr.resume else None
            saved = read_saved_model(last) if last is not None else None
            if saved is not None:
                check_resumable(saved, spec.resume_key)
            elif not tr.resume:
                clear_checkpoints(ckpt_root)
            gpt = build_model(spec.model, use_cuda, spec.packed)
            if spec.init_weights is not None and last is None:
                # Before the DDP wrapper and the optimizer: on GPU the optimizer copies the
                # weights into its fp32 master params when it is built.
                load_model_weights(spec.init_weights, gpt)
            trainable = freeze_untrainable(gpt, spec.optimizer.trainable, spec.stage)
            ddp = wrap_ddp(gpt, use_cuda)
            gpt.config.no_sync_func = ddp.no_sync
            gpt.config.finalize_model_grads_func = finalize_model_grads
            optimizer, sched = build_optimizer(ddp, spec.optimizer, tr.max_steps, use_cuda)
            task = spec.make_task(Context(de.rank, de.world_size, device, ddp))
            start, initial = 0, {}
            if saved is not None:
                start = load_checkpoint(saved.path, gpt, optimizer, sched)
                # The first eval, saved with the model, so a resumed run still reports it.
                initial = dict(saved.info.get("initial_eval") or {})
                if de.rank == 0:
                    print(f"[{spec.stage}] resumed from {last} at step {start}", flush=True)
            else:
                initial = task.evaluate()
                _log_eval(sink, de.rank, initial, 0)
            info = {"model": attrs.asdict(spec.model), "format": "torch_dist",
                    "backend": "megatron-core", "stage": spec.stage,
                    "resume_key": spec.resume_key, "initial_eval": initial, **spec.info}
            step, train_time, tokens = start, 0.0, 0
            first: dict[str, float] = {}
            last_metrics: dict[str, float] = {}
            checkpoint = last
            while step < tr.max_steps:
                batches = task.batches(step)
                t0 = time.perf_counter()  # train time only: rollouts, saves, evals not in it
                ddp.zero_grad_buffer()
                optimizer.zero_grad()
                loss = forward_backward(task, ddp, batches.micro, forward_only=False)
                _, grad_norm, _ = optimizer.step()
                sched.step(increment=1)
                if use_cuda:
                    torch.cuda.synchronize()
                train_time += time.perf_counter() - t0
                step += 1
                tokens += batches.tokens * de.world_size
                keys = sorted(batches.metrics)
                extra = dict(zip(keys, mean_over_ranks([batches.metrics[k] for k in keys],
                                                       device), strict=True))
                last_metrics = {"loss": loss, **extra}
                first = first or last_metrics
                if de.rank == 0 and (step % tr.log_every == 0 or step in (1, tr.max_steps)):
                    sink.log_metrics({**{f"train/{k}": v for k, v in last_metrics.items()},
                                      "lr": optimizer.param_groups[0]["lr"],
                                      "grad_norm": float(grad_norm or 0.0),
                                      "tokens_per_sec": tokens / train_time}, step)
                stopping = stop_at_step is not None and step >= stop_at_step
                if step % tr.checkpoint_every == 0 or step == tr.max_steps or stopping:
                    checkpoint = save_checkpoint(ckpt_root, step, gpt, optimizer, sched, info,
                                                 tr.keep_checkpoints)
                if stopping:
                    return StageResult(str(ckpt_root), step, None, completed=False)
            final = task.evaluate()
            _log_eval(sink, de.rank, final, step)
            meta: dict[str, Any] = {
                "stage": spec.stage, "backend": "megatron-core", "device": device.type,
                "world_size": de.world_size, "trainable_parameters": trainable,
                "tokens_per_sec": round(tokens / train_time, 2) if train_time else 0.0,
                "train_seconds": round(train_time, 3),
                "resumed_from_step": start if last is not None else None,
                "resume_key": spec.resume_key,
                **{f"initial_{k}": v for k, v in initial.items()},
                **{f"final_{k}": v for k, v in final.items()},
                **{f"first_train_{k}": v for k, v in first.items()},
                **{f"last_train_{k}": v for k, v in last_metrics.items()},
            }
            final_loss = final.get(spec.primary_eval) if spec.primary_eval else (
                last_metrics.get("loss"))
            meta["checkpoint"] = str(checkpoint) if checkpoint else None
            return StageResult(str(ckpt_root), step, final_loss, True, meta)
        finally:
            shutdown_distributed()
