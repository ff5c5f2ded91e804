"""nano3 training stages: pretrain, SFT and RL on Megatron-Core (or translated for Megatron-Bridge
and NeMo-RL).

Each stage job is `python -m nano3.stages.<stage> --config FILE` (`kit_track.stage_main`). This
package exports the typed configs, the result type and the errors; it imports no torch (the
training modules load it and Megatron-Core when a stage runs).
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
)
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages._train import model_work, train
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
    "MetricsSink",
    "ModelConfig",
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
    "model_work",
    "train",
]
