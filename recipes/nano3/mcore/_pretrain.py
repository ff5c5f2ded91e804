"""Pretraining with Megatron-Core: our loop around Megatron's model, optimizer and schedule."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import torch

from nano3.mcore._build import build_datasets, build_model, build_optimizer, wrap_ddp
from nano3.mcore._checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
)
from nano3.mcore._config import ModelShape, OptimSettings, TrainSettings, to_dict
from nano3.mcore._cpu_compat import apply_cpu_compat
from nano3.mcore._dist import dist_env, init_distributed, shutdown_distributed
from nano3.mcore.errors import McoreUnavailableError

__all__ = ["DatasetsFn", "MetricsSink", "TrainResult", "evaluate", "forward_step",
           "micro_batches", "run_training", "train_pretrain"]


class MetricsSink(Protocol):
    """Where metrics go (nano3.stages.PrintMetrics, a kit_track run, ...)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...


@attrs.frozen
class TrainResult:
    """The last checkpoint and the numbers a `ModelArtifact` records (StageResult's fields)."""

    checkpoint: str
    step: int
    final_loss: float | None
    completed: bool = True
    metadata: dict[str, Any] = attrs.field(factory=dict)


def _use_cuda(device: str) -> bool:
    if device == "cuda" and not torch.cuda.is_available():
        raise McoreUnavailableError("trainer.device=cuda but CUDA is not available here",
                                    hint="set trainer.device=auto or cpu")
    return device in ("auto", "cuda") and torch.cuda.is_available()


# attention_mask only where the data has one (packed SFT: conversations never attend across).
_BATCH_KEYS = ("tokens", "labels", "loss_mask", "position_ids", "attention_mask")


def micro_batches(dataset: Any, step: int, mbs: int, n_micro: int, rank: int, world: int,
                  device: torch.device) -> Iterator[dict[str, torch.Tensor]]:
    """The micro batches of one step for one rank: sample indices are a pure function of the
    step, so a resumed run reads exactly the samples the killed one would have."""
    per_rank = mbs * n_micro
    base = step * per_rank * world + rank * per_rank
    for m in range(n_micro):
        items = [dataset[base + m * mbs + i] for i in range(mbs)]
        yield {k: torch.stack([it[k] for it in items]).to(device, non_blocking=True)
               for k in _BATCH_KEYS if k in items[0]}


def forward_step(data_iterator: Iterator[dict[str, torch.Tensor]], model: Any) -> Any:
    """Megatron's forward-step contract: (output, loss_func); loss = mean over masked tokens."""
    batch = next(data_iterator)
    out = model(batch["tokens"], batch["position_ids"], batch.get("attention_mask"),
                labels=batch["labels"])
    mask = batch["loss_mask"].float().view(-1)

    def loss_func(output: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = (output.float().view(-1) * mask).sum() / mask.sum().clamp(min=1.0)
        # A copy: the schedule divides `loss` in place by the number of micro batches.
        return loss, {"lm loss": loss.detach().clone()}

    return out, loss_func


def _mean_loss(outputs: list[dict[str, torch.Tensor]], device: torch.device) -> float:
    """Mean of the micro-batch losses, averaged over the data-parallel ranks."""
    loss = torch.stack([o["lm loss"] for o in outputs]).mean().to(device)
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.all_reduce(loss)
        loss /= torch.distributed.get_world_size()
    return float(loss)


def _fwd_bwd(ddp: Any, batches: Iterator[dict[str, torch.Tensor]], n_micro: int, mbs: int,
             seq: int, forward_only: bool) -> list[dict[str, torch.Tensor]]:
    from megatron.core.pipeline_parallel import get_forward_backward_func

    out: list[dict[str, torch.Tensor]] = get_forward_backward_func()(
        forward_step_func=forward_step, data_iterator=batches, model=[ddp],
        num_microbatches=n_micro, seq_length=seq, micro_batch_size=mbs,
        forward_only=forward_only)
    return out


def evaluate(ddp: Any, dataset: Any, batches: int, mbs: int, seq: int, rank: int, world: int,
             device: torch.device) -> float | None:
    """Mean held-out loss over `batches` global batches (None without a valid split)."""
    if dataset is None or batches == 0:
        return None
    ddp.eval()
    with torch.no_grad():
        outs = _fwd_bwd(ddp, micro_batches(dataset, 0, mbs, batches, rank, world, device),
                        batches, mbs, seq, forward_only=True)
    ddp.train()
    return _mean_loss(outs, device)


def train_pretrain(model: ModelShape, optim: OptimSettings, trainer: TrainSettings,
                   blend_path: Path, output_dir: Path, sink: MetricsSink,
                   stop_at_step: int | None = None) -> TrainResult:
    """Train (or resume) a GPTModel on blend.json's train split; checkpoints in output_dir.

    Rank and world come from torchrun or Slurm (`dist_env`); only rank 0 logs metrics and
    writes metadata. `stop_at_step` ends early after a checkpoint (resume tests)."""

    def datasets(global_batch: int) -> tuple[Any, Any]:
        return build_datasets(blend_path, model, trainer, global_batch,
                              output_dir / "dataset_cache")

    return run_training(model, optim, trainer, output_dir, sink, datasets, None, stop_at_step,
                        packed=False)


DatasetsFn = Callable[[int], tuple[Any, Any]]


def run_training(model: ModelShape, optim: OptimSettings, trainer: TrainSettings,
                 output_dir: Path, sink: MetricsSink, datasets: DatasetsFn,
                 init_weights: Path | None, stop_at_step: int | None,
                 packed: bool) -> TrainResult:
    """The loop shared by pretraining and SFT. `datasets(global_batch)` gives (train, valid)
    indexable datasets of Megatron-style sample dicts; `init_weights` is a checkpoint whose
    model weights a fresh (not resumed) run starts from; `packed`: samples carry their own
    attention masks (see `build_model`)."""
    from megatron.core.distributed import finalize_model_grads
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    use_cuda = _use_cuda(trainer.device)
    if trainer.num_threads > 0:
        torch.set_num_threads(trainer.num_threads)
    de = dist_env()
    device = torch.device("cuda", de.local_rank) if use_cuda else torch.device("cpu")
    ckpt_root = output_dir / "checkpoints"
    with apply_cpu_compat():
        init_distributed(de, use_cuda)
        try:
            torch.manual_seed(trainer.seed)
            model_parallel_cuda_manual_seed(trainer.seed)
            last = latest_checkpoint(ckpt_root) if trainer.resume else None
            gpt = build_model(model, use_cuda, packed)
            if init_weights is not None and last is None:
                # Before the DDP wrapper and the optimizer: on GPU the optimizer copies the
                # weights into its fp32 master params when it is built.
                load_model_weights(init_weights, gpt)
            ddp = wrap_ddp(gpt, use_cuda)
            gpt.config.no_sync_func = ddp.no_sync
            gpt.config.finalize_model_grads_func = finalize_model_grads
            optimizer, sched = build_optimizer(ddp, optim, trainer.max_steps, use_cuda)
            n_micro, mbs = trainer.grad_accum_steps, trainer.micro_batch_size
            global_batch = mbs * n_micro * de.world_size
            train_ds, valid_ds = datasets(global_batch)
            info = {"model": to_dict(model), "eod_id": trainer.eod_id, "format": "torch_dist",
                    "backend": "megatron-core"}
            start = 0
            if last is not None:
                start = load_checkpoint(last, gpt, optimizer, sched)

            def ev() -> float | None:
                return evaluate(ddp, valid_ds, trainer.eval_batches, mbs, model.seq_length,
                                de.rank, de.world_size, device)

            initial = ev()
            if de.rank == 0 and initial is not None and start == 0:
                sink.log_metrics({"eval/loss": initial}, 0)
            step, train_time, tokens, loss = start, 0.0, 0, float("nan")
            checkpoint = str(last) if last else ""
            while step < trainer.max_steps:
                t0 = time.perf_counter()  # train time only: saves and evals are not in it
                ddp.zero_grad_buffer()
                optimizer.zero_grad()
                outs = _fwd_bwd(ddp, micro_batches(train_ds, step, mbs, n_micro, de.rank,
                                                   de.world_size, device),
                                n_micro, mbs, model.seq_length, forward_only=False)
                _, grad_norm, _ = optimizer.step()
                sched.step(increment=1)
                step += 1
                tokens += global_batch * model.seq_length
                loss = _mean_loss(outs, device)
                train_time += time.perf_counter() - t0
                if de.rank == 0 and (step % trainer.log_every == 0 or step == trainer.max_steps):
                    sink.log_metrics({"train/loss": loss, "lr": optimizer.param_groups[0]["lr"],
                                      "grad_norm": float(grad_norm or 0.0),
                                      "tokens_per_sec": tokens / train_time}, step)
                if step % trainer.checkpoint_every == 0 or step == trainer.max_steps:
                    checkpoint = str(save_checkpoint(ckpt_root, step, gpt, optimizer, sched,
                                                     info, trainer.keep_checkpoints))
                    if stop_at_step is not None and step >= stop_at_step:
                        break
            final = ev()
            if de.rank == 0 and final is not None:
                sink.log_metrics({"eval/loss": final}, step)
            meta = {"initial_loss": initial, "final_train_loss": loss, "resumed_from_step": start,
                    "tokens_per_sec": tokens / train_time if train_time else 0.0,
                    "world_size": de.world_size, "backend": "megatron-core"}
            return TrainResult(checkpoint, step, final if final is not None else loss,
                               completed=step >= trainer.max_steps, metadata=meta)
        finally:
            shutdown_distributed()
