"""nano3 training stages: pretrain, SFT and RL, with a local PyTorch backend.

Each stage is runnable as `python -m nano3.stages.<stage> --config FILE [overrides]`. This
package exports the typed configs, the result type and the errors; it imports no torch (the
local trainers load it when a stage runs).
"""
from __future__ import annotations

from nano3.stages._config import (
    BACKENDS,
    GRPOConfig,
    ModelConfig,
    OptimizerConfig,
    PretrainConfig,
    RLConfig,
    SFTConfig,
    TrainerConfig,
    default_output_dir,
    validate_config,
)
from nano3.stages._entry import KitModelPublisher, ModelPublisher, main_for, train
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages.errors import (
    BackendRunError,
    BackendUnavailableError,
    CheckpointError,
    DataFormatError,
    StageConfigError,
    StageError,
    TokenizerError,
)

__all__ = [
    "BACKENDS",
    "BackendRunError",
    "BackendUnavailableError",
    "CheckpointError",
    "DataFormatError",
    "GRPOConfig",
    "KitModelPublisher",
    "MetricsSink",
    "ModelConfig",
    "ModelPublisher",
    "OptimizerConfig",
    "PretrainConfig",
    "PrintMetrics",
    "RLConfig",
    "SFTConfig",
    "StageConfigError",
    "StageError",
    "StageResult",
    "TokenizerError",
    "TrainerConfig",
    "default_output_dir",
    "main_for",
    "train",
    "validate_config",
]
