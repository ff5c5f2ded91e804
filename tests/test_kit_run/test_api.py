"""The public surface of kit_run: exact `__all__` and a cheap import."""
from __future__ import annotations

import os
import subprocess
import sys

import kit_run

DOCUMENTED = [
    "DirtyTreeError", "EXECUTORS", "EnvFile", "EnvFileError", "EnvFileNotFoundError",
    "Executor", "ExecutorUnavailableError", "FakeExecutor", "FakeTransport",
    "GitArchivePackager", "JobHandle", "JobNotFoundError", "JobSpec", "JobStatus",
    "PackagingError", "PexPackager", "PreparedJob", "Profile", "ProfileError", "ProfileKeyError",
    "ProfileNotFoundError", "RunError", "SCHEMA_VERSION", "SchedulerRejectedError",
    "SubmissionError", "TunnelError", "build_executor", "cancel_job",
    "check_executor_available", "find_env_file", "job_logs", "job_status", "list_jobs",
    "list_profiles", "load_env_file", "load_env_profile", "profile_from_mapping",
    "render_dry_run", "submit", "wait_for_job",
]


def test_all_is_exact_sorted_and_importable() -> None:
    """`__all__` is sorted, unique, importable and equal to the documented list."""
    assert kit_run.__all__ == sorted(kit_run.__all__)
    assert len(set(kit_run.__all__)) == len(kit_run.__all__)
    assert sorted(DOCUMENTED) == kit_run.__all__
    for name in kit_run.__all__:
        assert getattr(kit_run, name) is not None


def test_private_modules_declare_sorted_all() -> None:
    """Every private module has a sorted `__all__`."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(kit_run.__path__):
        module = importlib.import_module(f"kit_run.{info.name}")
        assert module.__all__ == sorted(module.__all__), info.name


def test_import_does_not_load_heavy_modules() -> None:
    """`import kit_run` loads neither nemo_run nor paramiko/fabric."""
    code = ("import sys, kit_run; bad = [m for m in ('nemo_run', 'paramiko', 'fabric', "
            "'torch', 'wandb') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], env=os.environ, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_errors_derive_from_kit_error_and_builtins() -> None:
    """Each error is a KitError and the builtin it is."""
    from kit_config.errors import KitError

    assert issubclass(kit_run.ProfileError, ValueError)
    assert issubclass(kit_run.ProfileNotFoundError, LookupError)
    assert issubclass(kit_run.EnvFileNotFoundError, FileNotFoundError)
    assert issubclass(kit_run.SubmissionError, RuntimeError)
    assert issubclass(kit_run.TunnelError, ConnectionError)
    assert issubclass(kit_run.ExecutorUnavailableError, ImportError)
    assert issubclass(kit_run.RunError, KitError)
