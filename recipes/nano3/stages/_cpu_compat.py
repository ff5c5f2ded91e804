"""Megatron-Core on a machine without CUDA: the few places where 0.16.1 assumes a GPU.

Applied only when `torch.cuda.is_available()` is False (`apply_cpu_compat` is a no-op on a GPU
machine, and idempotent). Each patch names the Megatron-Core call it covers and was checked
against megatron-core 0.16.1 with torch 2.13 (CPU); `tests/test_nano3_train/test_cpu_compat.py`
shows each failure without its patch. Revisit them when the megatron-core pin moves.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = [
    "CPU_PATCHES",
    "CpuDeviceMode",
    "apply_cpu_compat",
    "cpu_clip_grad_by_total_norm_fp32",
]

_CPU = torch.device("cpu")
_applied: set[str] = set()


def _patch_rng() -> None:
    """`tensor_parallel.random.model_parallel_cuda_manual_seed` and `CudaRNGStatesTracker.add/
    fork` (attention forks the tracker even at dropout 0) read and write the CUDA generator
    through `torch.cuda.get_rng_state/set_rng_state/manual_seed` and the module's own
    `_get_cuda_rng_state/_set_cuda_rng_state`: "Torch not compiled with CUDA enabled". On CPU
    they map onto the CPU generator, so seeding and forking stay deterministic."""
    from megatron.core.tensor_parallel import random as mrandom

    def get_state(*_: Any, **__: Any) -> torch.Tensor:
        return torch.get_rng_state()

    def set_state(state: torch.Tensor, *_: Any, **__: Any) -> None:
        torch.set_rng_state(state)

    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    torch.cuda.get_rng_state = get_state
    torch.cuda.set_rng_state = set_state  # type: ignore[assignment]
    torch.cuda.manual_seed = manual_seed
    mrandom._get_cuda_rng_state = get_state
    mrandom._set_cuda_rng_state = set_state


def _patch_current_device() -> None:
    """`distributed.param_and_grad_buffer._ParamAndGradBuffer` allocates the DDP buffers with
    `device=torch.cuda.current_device()` (and `optimizer.py` its scale tensors): on CPU that
    call raises. It answers "cpu", so those allocations land in host memory."""
    torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment,return-value]


def _patch_synchronize() -> None:
    """`dist_checkpointing.strategies.filesystem_async` (`preload_tensors`, used by every
    torch_dist save) calls `torch.cuda.synchronize()`; with no device there is nothing to wait
    for, so it is a no-op."""
    torch.cuda.synchronize = lambda *_, **__: None


def cpu_clip_grad_by_total_norm_fp32(
    parameters: Sequence[torch.Tensor] | torch.Tensor,
    max_norm: float,
    total_norm: float,
    use_decoupled_grad: bool = False,
) -> None:
    """`optimizer.clip_grads.clip_grad_by_total_norm_fp32` on CPU: the same scaling, with
    Megatron's `param.grad.type() == 'torch.cuda.FloatTensor'` assert stated for the device the
    grads are on (fp32 on CPU), and the multi-tensor scale done with `torch._foreach_mul_`."""
    params = [parameters] if isinstance(parameters, torch.Tensor) else parameters
    attr = "decoupled_grad" if use_decoupled_grad else "grad"
    grads = [getattr(p, attr).detach() for p in params if getattr(p, attr, None) is not None]
    for g in grads:
        if g.dtype not in (torch.float32, torch.bfloat16) or g.device.type != "cpu":
            raise TypeError(f"clip_grad_by_total_norm_fp32 on CPU expects fp32 CPU grads, got "
                            f"{g.dtype} on {g.device}")
    clip_coeff = max_norm / (total_norm + 1.0e-6)
    if clip_coeff < 1.0 and grads:
        torch._foreach_mul_(grads, clip_coeff)


def _patch_clip_grads() -> None:
    """`optimizer.optimizer.MegatronOptimizer.clip_grad_norm` calls
    `clip_grad_by_total_norm_fp32`, which asserts every grad is a `torch.cuda.FloatTensor`
    (AssertionError on CPU). Both the name bound in `optimizer.optimizer` and the one in
    `optimizer.clip_grads` are replaced by `cpu_clip_grad_by_total_norm_fp32`."""
    from megatron.core.optimizer import clip_grads, optimizer

    clip_grads.clip_grad_by_total_norm_fp32 = cpu_clip_grad_by_total_norm_fp32
    optimizer.clip_grad_by_total_norm_fp32 = cpu_clip_grad_by_total_norm_fp32


def _is_cuda(device: Any) -> bool:
    return (isinstance(device, str) and device.startswith("cuda")) or (
        isinstance(device, torch.device) and device.type == "cuda")


class CpuDeviceMode(TorchFunctionMode):
    """Rewrites `device="cuda"` to the CPU and makes `Tensor.cuda()` a no-op while active.

    Covers the literal `device='cuda'` allocations of `pipeline_parallel.schedules.
    forward_backward_no_pipelining` (`total_num_tokens`), `optimizer.optimizer.FP32Optimizer`
    (`_scale`), `optimizer.clip_grads.get_grad_norm_fp32` (`dummy_overflow_buf`) and
    `distributed.param_and_grad_buffer` (warm-up tensor). Only calls that name CUDA are
    touched, so the cost is one dict lookup per torch call (not measurable at our sizes)."""

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.cuda:
            return args[0]
        if _is_cuda(kwargs.get("device")):
            kwargs = {**kwargs, "device": _CPU}
        return func(*args, **kwargs)


CPU_PATCHES: dict[str, Callable[[], None]] = {
    "clip_grads": _patch_clip_grads,
    "current_device": _patch_current_device,
    "rng": _patch_rng,
    "synchronize": _patch_synchronize,
}


def apply_cpu_compat(only: tuple[str, ...] | None = None) -> contextlib.AbstractContextManager[
        Any]:
    """Apply the CPU patches (once) and return the device mode to enter around training.

    On a CUDA machine this applies nothing and returns a null context. `only` picks a subset
    by name (the tests use it to show each failure without its patch)."""
    if torch.cuda.is_available():
        return contextlib.nullcontext()
    for name, patch in CPU_PATCHES.items():
        if (only is None or name in only) and name not in _applied:
            patch()
            _applied.add(name)
    return CpuDeviceMode()
