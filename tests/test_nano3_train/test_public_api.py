"""The public surface of `nano3.stages`: exact, sorted, importable, and torch-free."""
from __future__ import annotations

import subprocess
import sys

import nano3.stages

DOCUMENTED = [
    "BACKENDS", "BackendRunError", "BackendUnavailableError", "CheckpointError",
    "DataFormatError", "GRPOConfig", "MetricsSink", "ModelConfig", "OptimizerConfig",
    "PretrainConfig", "PrintMetrics", "RLConfig", "SFTConfig", "StageConfigError",
    "StageError", "StageResult", "TokenizerError", "TrainerConfig", "default_output_dir",
    "model_work", "train",
]


def test_all_is_exact_sorted_and_importable() -> None:
    """`__all__` equals the documented list, is sorted, and every name resolves."""
    names = nano3.stages.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert names == DOCUMENTED
    for name in names:
        assert getattr(nano3.stages, name) is not None


def test_import_does_not_load_heavy_modules(subprocess_env) -> None:
    """Importing the package and a stage module loads no torch, pyarrow or tokenizers."""
    code = ("import sys, nano3.stages, nano3.stages.pretrain, nano3.stages.sft, "
            "nano3.stages.rl; bad = [m for m in ('torch', 'pyarrow', 'tokenizers', 'nemo_run',"
            " 'wandb') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_errors_derive_from_kit_error_and_builtins() -> None:
    """Each stage error is a KitError and the builtin it is, with one-line messages."""
    from kit_config.errors import KitError
    from nano3.stages import errors

    cases = [
        (errors.StageConfigError("sft", "a.b", "bad"), ValueError),
        (errors.DataFormatError("/x", "broken"), ValueError),
        (errors.CheckpointError("/c", "broken"), RuntimeError),
        (errors.BackendUnavailableError("nemo-rl", "nemo_rl"), ImportError),
        (errors.BackendRunError("nemo-rl", 3, "/logs"), RuntimeError),
        (errors.TokenizerError("x", "nope"), ValueError),
    ]
    for err, builtin in cases:
        assert isinstance(err, KitError)
        assert isinstance(err, builtin)
        assert "\n" not in str(err)
    assert errors.__all__ == sorted(errors.__all__)


def test_data_format_error_is_the_shared_format_error() -> None:
    """DataFormatError is a nano3.formats.FormatError, and re-raising one keeps its context."""
    from nano3.formats import FormatError
    from nano3.stages.errors import DataFormatError

    shared = FormatError("/d/shard.idx", "bad magic", hint="re-run data prep")
    err = DataFormatError.from_format(shared)
    assert isinstance(err, FormatError)
    assert (err.path, err.detail, err.hint) == ("/d/shard.idx", "bad magic", "re-run data prep")
    assert str(err) == "bad training data at /d/shard.idx: bad magic; re-run data prep"


def test_stage_help_needs_no_typer_or_nemo_run(subprocess_env) -> None:
    """`--help` of a stage lists its keys and loads neither Typer, nemo-run nor torch."""
    code = ("import sys, runpy; sys.argv = ['x', '--help']\n"
            "try:\n    runpy.run_module('nano3.stages.pretrain', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "bad = [m for m in ('typer', 'nemo_run', 'torch') if m in sys.modules]\n"
            "print('BAD', bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trainer.max_steps" in proc.stdout
