"""`python -m test_nano3_train._compat_probe SCENARIO [WITHOUT]`: run one Megatron-Core call
that needs a CPU patch, with every patch applied except WITHOUT (a name of `CPU_PATCHES`, or
`device_mode` to run outside `CpuDeviceMode`). Prints `ok` or the error and exits 1.

A fresh process per case: the patches are process-wide and cannot be undone."""
from __future__ import annotations

import contextlib
import sys
import tempfile
import traceback
from typing import Any

import torch


def _model() -> Any:
    from nano3.stages import ModelConfig
    from nano3.stages._megatron import build_model

    return build_model(ModelConfig(vocab_size=64, seq_length=8, num_layers=1, hidden_size=16,
                                  num_attention_heads=2, ffn_hidden_size=32), use_cuda=False)


def rng() -> None:
    """model_parallel_cuda_manual_seed, then a fork of the tracker as attention does."""
    from megatron.core.tensor_parallel import get_cuda_rng_tracker, model_parallel_cuda_manual_seed

    model_parallel_cuda_manual_seed(7)
    with get_cuda_rng_tracker().fork():
        torch.rand(2)


def current_device() -> None:
    """Megatron DDP allocates its grad buffers on torch.cuda.current_device()."""
    from nano3.stages._megatron import wrap_ddp

    wrap_ddp(_model(), use_cuda=False)


def synchronize() -> None:
    """A torch_dist save (filesystem_async.preload_tensors synchronizes CUDA)."""
    from megatron.core import dist_checkpointing

    with tempfile.TemporaryDirectory() as d:
        dist_checkpointing.save({"model": _model().sharded_state_dict()}, d,
                                sharded_strategy=("torch_dist", 1))


def clip_grads() -> None:
    """MegatronOptimizer.clip_grad_norm's call: a CPU fp32 grad of norm 10 clipped to 1."""
    from megatron.core.optimizer import optimizer

    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.full((4,), 5.0)
    optimizer.clip_grad_by_total_norm_fp32([p], 1.0, 10.0)
    assert torch.allclose(p.grad, torch.full((4,), 0.5), atol=1e-5), p.grad


def device_mode() -> None:
    """forward_backward_no_pipelining allocates `total_num_tokens` with device="cuda"."""
    from megatron.core.pipeline_parallel import get_forward_backward_func

    model = _model()
    tokens = torch.zeros(1, 8, dtype=torch.long)
    pos = torch.arange(8).unsqueeze(0)

    def step(_: Any, m: Any) -> Any:
        out = m(tokens, pos, None, labels=tokens)
        return out, lambda o: (o.float().mean(), {})

    get_forward_backward_func()(forward_step_func=step, data_iterator=iter([None]),
                                model=[model], num_microbatches=1, seq_length=8,
                                micro_batch_size=1, forward_only=True)


SCENARIOS = {f.__name__: f for f in (rng, current_device, synchronize, clip_grads, device_mode)}


def main(scenario: str, without: str | None) -> int:
    from nano3.stages._cpu_compat import CPU_PATCHES, apply_cpu_compat
    from nano3.stages._dist import dist_env, init_distributed, shutdown_distributed

    mode = apply_cpu_compat(tuple(n for n in CPU_PATCHES if n != without))
    names = list(SCENARIOS) if scenario == "all" else [scenario]
    try:
        with contextlib.nullcontext() if without == "device_mode" else mode:
            init_distributed(dist_env(), use_cuda=False)
            for name in names:
                SCENARIOS[name]()
    except (RuntimeError, AssertionError, AttributeError) as exc:
        # The innermost Megatron-Core frame: where the CUDA assumption is.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "megatron" in f.filename]
        where = f"{frames[-1].filename.split('megatron/core/')[-1]}:{frames[-1].name}" if (
            frames) else "?"
        print(f"{type(exc).__name__} in {where}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutdown_distributed()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
