"""Each CPU patch of nano3.stages._cpu_compat is needed: the Megatron-Core call it covers fails
without it (in a fresh process) and works with all of them."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nano3.stages._cpu_compat import CPU_PATCHES, cpu_clip_grad_by_total_norm_fp32

from .conftest import RUN_TIMEOUT, child_env

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only patches")


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "test_nano3_train._compat_probe", *args],
                          env=child_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)


_NO_CUDA = "Torch not compiled with CUDA enabled"
# (patch left out, scenario that needs it, where and what Megatron-Core 0.16.1 raises without it)
CASES = [
    ("rng", "rng", f"tensor_parallel/random.py:add: {_NO_CUDA}"),
    ("current_device", "current_device",
     f"distributed/param_and_grad_buffer.py:__init__: {_NO_CUDA}"),
    ("synchronize", "synchronize",
     f"dist_checkpointing/strategies/filesystem_async.py:preload_tensors: {_NO_CUDA}"),
    ("clip_grads", "clip_grads", "optimizer/clip_grads.py:clip_grad_by_total_norm_fp32"),
    ("device_mode", "device_mode",
     f"pipeline_parallel/schedules.py:forward_backward_no_pipelining: {_NO_CUDA}"),
]


def test_cases_cover_every_patch() -> None:
    assert {c[0] for c in CASES} == {*CPU_PATCHES, "device_mode"}


@pytest.mark.parametrize(("without", "scenario", "error"), CASES, ids=[c[0] for c in CASES])
def test_call_fails_without_its_patch(without: str, scenario: str, error: str) -> None:
    out = _probe(scenario, without)
    assert out.returncode == 1, out.stdout + out.stderr[-3000:]
    assert f"AssertionError in {error}" in out.stderr.strip().splitlines()[-1]


def test_every_call_works_with_all_patches() -> None:
    out = _probe("all")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def test_cpu_clip_matches_torch_clipping() -> None:
    """Same scaling as torch.nn.utils.clip_grad_norm_; grads under the limit are untouched."""
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.zeros(5)) for _ in range(3)]
    ref = [torch.nn.Parameter(torch.zeros(5)) for _ in range(3)]
    for a, b in zip(ours, ref, strict=True):
        a.grad = torch.randn(5) * 3
        b.grad = a.grad.clone()
    total = float(torch.nn.utils.clip_grad_norm_(ref, 1.0))
    cpu_clip_grad_by_total_norm_fp32(ours, 1.0, total)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6)  # type: ignore[arg-type]
    before = ours[0].grad.clone()  # type: ignore[union-attr]
    cpu_clip_grad_by_total_norm_fp32(ours, 100.0, 1.0)
    assert torch.equal(ours[0].grad, before)  # type: ignore[arg-type]


def test_cpu_clip_rejects_fp16_grads() -> None:
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float16))
    p.grad = torch.ones(2, dtype=torch.float16)
    with pytest.raises(TypeError, match="fp32 CPU grads"):
        cpu_clip_grad_by_total_norm_fp32([p], 1.0, 10.0)
