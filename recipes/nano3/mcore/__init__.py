"""Megatron-Core training backend of nano3: GPTModel, Megatron's optimizer, schedule, data
pipeline (BlendedMegatronDatasetBuilder over blend.json) and torch_dist checkpoints.

Heavy imports (torch, megatron) happen when a function runs, except `torch` itself, which every
module here needs; import this package only from the training side.
"""
from __future__ import annotations

from nano3.mcore._checkpoint import (
    latest_checkpoint,
    load_model_weights,
    read_model_shape,
)
from nano3.mcore._config import ModelShape, OptimSettings, TrainSettings
from nano3.mcore._cpu_compat import apply_cpu_compat
from nano3.mcore._pretrain import MetricsSink, TrainResult, train_pretrain
from nano3.mcore._sft import PackedSFTDataset, train_sft
from nano3.mcore.errors import (
    McoreCheckpointError,
    McoreError,
    McoreUnavailableError,
    SFTDataError,
)

__all__ = [
    "McoreCheckpointError",
    "McoreError",
    "McoreUnavailableError",
    "MetricsSink",
    "ModelShape",
    "OptimSettings",
    "PackedSFTDataset",
    "SFTDataError",
    "TrainResult",
    "TrainSettings",
    "apply_cpu_compat",
    "latest_checkpoint",
    "load_model_weights",
    "read_model_shape",
    "train_pretrain",
    "train_sft",
]
