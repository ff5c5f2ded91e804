"""kit-track: lineage trackers (file by default, W&B, MLflow, no-op) behind one protocol.

`start_run` makes a run current and wires it into kit-artifacts, so every artifact a
recipe resolves or saves is recorded as an input or output of that run. Heavy backends
(wandb, mlflow) are imported only when a tracker of theirs starts.
"""
from __future__ import annotations

from kit_config import WandbConfig
from kit_track import errors
from kit_track._credentials import job_credentials, wandb_api_key
from kit_track._file import FileTracker
from kit_track._helpers import add_wandb_tags, finish_wandb, init_wandb_if_configured
from kit_track._mlflow import MlflowTracker
from kit_track._mlflow_client import FakeMlflowBackend, MlflowBackend, RealMlflowBackend
from kit_track._protocol import ErrorSink, RunInfo, RunStatus, TagSink, Tracker, TrackerErrorRecord
from kit_track._records import ArtifactUse, MetricPoint, RunRecord, list_runs, load_run
from kit_track._remote import install_wandb_resolver, wandb_remote_resolver
from kit_track._run import Run, RunSummary, current_run, start_run
from kit_track._selection import trackers_from_settings
from kit_track._simple import FakeTracker, NoOpTracker
from kit_track._stage_main import stage_main
from kit_track._sync import SyncedRun, SyncReport, sync
from kit_track._wandb import WandbTracker
from kit_track._wandb_client import (
    FakeWandbClient,
    FakeWandbRun,
    RealWandbClient,
    WandbArtifactSpec,
    WandbClient,
    WandbInitArgs,
    WandbRunHandle,
)
from kit_track.errors import (
    CredentialsError,
    RunNotFoundError,
    RunRecordError,
    RunStateError,
    SyncError,
    TrackerConfigError,
    TrackerError,
    TrackError,
)

__all__ = [
    "ArtifactUse",
    "CredentialsError",
    "ErrorSink",
    "FakeMlflowBackend",
    "FakeTracker",
    "FakeWandbClient",
    "FakeWandbRun",
    "FileTracker",
    "MetricPoint",
    "MlflowBackend",
    "MlflowTracker",
    "NoOpTracker",
    "RealMlflowBackend",
    "RealWandbClient",
    "Run",
    "RunInfo",
    "RunNotFoundError",
    "RunRecord",
    "RunRecordError",
    "RunStateError",
    "RunStatus",
    "RunSummary",
    "SyncError",
    "SyncReport",
    "SyncedRun",
    "TagSink",
    "TrackError",
    "Tracker",
    "TrackerConfigError",
    "TrackerError",
    "TrackerErrorRecord",
    "WandbArtifactSpec",
    "WandbClient",
    "WandbConfig",
    "WandbInitArgs",
    "WandbRunHandle",
    "WandbTracker",
    "add_wandb_tags",
    "current_run",
    "errors",
    "finish_wandb",
    "init_wandb_if_configured",
    "install_wandb_resolver",
    "job_credentials",
    "list_runs",
    "load_run",
    "stage_main",
    "start_run",
    "sync",
    "trackers_from_settings",
    "wandb_api_key",
    "wandb_remote_resolver",
]

install_wandb_resolver()
