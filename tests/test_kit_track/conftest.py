"""Shared fixtures: private NEMOTRON_HOME and W&B dirs per test, no ambient credentials."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import kit_track
from kit_artifacts import hooks
from kit_track import _helpers

_ENV_TO_CLEAR = (
    "NEMOTRON_RUN_ID", "NEMOTRON_TRACKERS", "NEMOTRON_ARTIFACTS_ROOT", "NEMOTRON_GIT_COMMIT",
    "NEMOTRON_GIT_DIRTY", "NEMOTRON_CODE_DIGEST", "PEX",
    "RANK", "SLURM_PROCID", "WORLD_SIZE", "SLURM_NTASKS",
    "WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_MODE", "WANDB_BASE_URL",
    "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "HF_TOKEN", "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point NEMOTRON_HOME, WANDB_DIR and NETRC at tmp paths and reset process-wide state."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    hooks.set_producer_provider(None)
    hooks._reset_implicit_run()
    _helpers._standalone = None
    yield home
    hooks.set_producer_provider(None)
    _helpers._standalone = None
    assert kit_track.current_run() is None, "a test left a run active"


@pytest.fixture()
def runs_root(_isolated: Path) -> Path:
    """Where the default FileTracker writes run directories in this test."""
    return _isolated / "runs"
