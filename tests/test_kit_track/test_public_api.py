"""The public surface of kit_track: exact `__all__`, and a fast import."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import kit_track

EXPECTED = [
    "ArtifactUse", "CredentialsError", "ErrorSink", "FakeMlflowBackend", "FakeTracker",
    "FakeWandbClient", "FakeWandbRun", "FileTracker", "MetricPoint", "MlflowBackend",
    "MlflowTracker", "NoOpTracker", "RealMlflowBackend", "RealWandbClient", "Run", "RunInfo",
    "RunNotFoundError", "RunRecord", "RunRecordError", "RunStateError", "RunStatus",
    "RunSummary", "SyncError", "SyncReport", "SyncedRun", "TagSink", "TrackError", "Tracker",
    "TrackerConfigError", "TrackerError", "TrackerErrorRecord", "WandbArtifactSpec",
    "WandbClient", "WandbConfig", "WandbInitArgs", "WandbRunHandle", "WandbTracker",
    "add_wandb_tags",
    "current_run", "errors", "finish_wandb", "init_wandb_if_configured",
    "install_wandb_resolver", "job_credentials", "list_runs", "load_run", "stage_main", "start_run",
    "sync",
    "trackers_from_settings", "wandb_api_key", "wandb_remote_resolver",
]

MODULES = [
    "_config", "_credentials", "_env", "_file", "_guard", "_helpers", "_jsonio", "_mlflow",
    "_mlflow_client", "_protocol", "_records", "_remote", "_run", "_selection",
    "_simple", "_sync", "_wandb", "_wandb_client", "_wandb_state", "errors",
]


def test_all_is_exact_sorted_and_importable() -> None:
    """The package `__all__` equals the documented list, is sorted, and every name exists."""
    assert kit_track.__all__ == EXPECTED
    assert sorted(kit_track.__all__) == kit_track.__all__
    for name in kit_track.__all__:
        assert hasattr(kit_track, name), name


def test_every_module_has_sorted_all() -> None:
    """Each private module declares a sorted, importable `__all__`."""
    for short in MODULES:
        module = importlib.import_module(f"kit_track.{short}")
        names = module.__all__
        assert names == sorted(names), short
        assert len(set(names)) == len(names), short
        for name in names:
            assert hasattr(module, name), f"{short}.{name}"


def test_import_does_not_load_heavy_backends() -> None:
    """`import kit_track` must not import wandb, mlflow, torch, nemo_run, pyarrow or boto3."""
    code = (
        "import sys, kit_track; heavy = ('wandb', 'mlflow', 'torch', 'nemo_run', 'pyarrow',"
        " 'boto3'); print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
        check=True,
    )
    assert out.stdout.strip() == ""


def test_errors_root_in_kit_error_and_builtins() -> None:
    """Each concrete error is a TrackError and the builtin it is."""
    from kit_config.errors import KitError

    assert issubclass(kit_track.TrackError, KitError)
    assert issubclass(kit_track.RunNotFoundError, LookupError)
    assert issubclass(kit_track.RunRecordError, ValueError)
    assert issubclass(kit_track.RunStateError, RuntimeError)
    assert issubclass(kit_track.TrackerConfigError, ValueError)
    assert issubclass(kit_track.TrackerError, RuntimeError)
    assert issubclass(kit_track.CredentialsError, PermissionError)
    assert issubclass(kit_track.SyncError, RuntimeError)
