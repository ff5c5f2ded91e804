"""`MlflowTracker` (optional extra): the run record as an MLflow run, for sites without W&B.

Config as flattened params plus `nemotron/config.json`; inputs as MLflow dataset inputs
(name, digest, source = the kit URI and path); model outputs as MLflow logged models
linked to the run (`log_outputs`), other outputs as tags plus `nemotron/outputs.json`.
Without a tracking URI it uses a SQLite store under `$NEMOTRON_HOME/mlflow` (no server).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kit_config import nemotron_home
from kit_track._mlflow_client import MlflowBackend, RealMlflowBackend
from kit_track._protocol import RunInfo, RunStatus

__all__ = ["MlflowTracker", "flatten_params"]

_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
_PARAM_VALUE_MAX = 6000  # MLflow 3's limit on a param value


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Dotted `key=value` params of a nested config (lists as JSON)."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten_params(value, prefix=f"{dotted}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            yield dotted[:250], text[:_PARAM_VALUE_MAX]


def _artifact_name(uri: str) -> str:
    from kit_artifacts import parse_art_uri

    try:
        return parse_art_uri(uri).name
    except ValueError:  # an external URI: a safe name made of its text
        return re.sub(r"[^A-Za-z0-9._-]+", "-", uri)[:200]


class MlflowTracker:
    """Writes the run to MLflow (rank 0 only). `backend` replaces the real MlflowClient."""

    name = "mlflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        *,
        backend: MlflowBackend | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.mlflow_run_id: str | None = None
        self.experiment_id: str | None = None
        self.model_ids: dict[str, str] = {}
        self._backend_arg = backend
        self._backend: MlflowBackend | None = None
        self._outputs: list[dict[str, str]] = []

    def _resolve_uri(self) -> tuple[str, str | None]:
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            base = nemotron_home() / "mlflow"
            base.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{base / 'mlflow.db'}"  # pants: no-infer-dep
        # MLflow's default artifact root for a SQLite store is ./mlruns in the *cwd*:
        # keep artifacts next to the database instead.
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").as_uri()
        return uri, artifacts

    def start(self, run: RunInfo) -> None:
        """Create (or reuse) the experiment and open an MLflow run tagged with the kit run id."""
        if not run.is_rank_zero:
            return
        uri, artifact_root = self._resolve_uri()
        backend = self._backend_arg if self._backend_arg is not None else RealMlflowBackend(uri)
        name = self.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "nemotron"
        tags = {
            "nemotron.run_id": run.run_id,
            "nemotron.stage": run.stage,
            "nemotron.host": run.host,
            "nemotron.argv": " ".join(run.argv)[:_PARAM_VALUE_MAX],
            "nemotron.config_digest": run.config_digest or "",
            "nemotron.code_digest": run.code_digest or "",
            **{f"tag.{t}": "true" for t in run.tags},
        }
        if run.git_commit:
            tags["mlflow.source.git.commit"] = run.git_commit  # pants: no-infer-dep
        self.experiment_id, self.mlflow_run_id = backend.open_run(
            name, artifact_root, run.name, tags
        )
        self._backend = backend
        backend.log_params(self.mlflow_run_id, dict(flatten_params(run.config)))
        backend.log_dict(self.mlflow_run_id, dict(run.config), "nemotron/config.json")

    def _live(self) -> tuple[MlflowBackend, str] | None:
        if self._backend is None or self.mlflow_run_id is None:
            return None
        return self._backend, self.mlflow_run_id

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Log the artifact as an MLflow dataset input of the run."""
        live = self._live()
        if live is None:
            return
        backend, run_id = live
        backend.log_dataset_input(
            run_id,
            name=_artifact_name(uri),
            digest=hashlib.sha256(uri.encode()).hexdigest()[:16],
            source=json.dumps({"uri": uri, "path": path, "type": artifact_type}),
            context="input",
        )

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Models become logged models linked to the run; other outputs run tags."""
        live = self._live()
        if live is None:
            return
        backend, run_id = live
        self._outputs.append({"uri": uri, "artifact_type": artifact_type, "path": path})
        backend.log_dict(run_id, {"outputs": self._outputs}, "nemotron/outputs.json")
        if "model" in artifact_type.lower():
            self.model_ids[uri] = backend.log_model_output(
                run_id, self.experiment_id or "", _artifact_name(uri),
                {"nemotron.uri": uri, "nemotron.path": path}, artifact_type,
            )
        else:
            backend.set_tag(run_id, f"nemotron.output.{_artifact_name(uri)}", uri)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics in one batch (MLflow needs a step: None becomes 0)."""
        live = self._live()
        if live is not None:
            live[0].log_metrics(live[1], {k: float(v) for k, v in metrics.items()}, step or 0)

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Tags become `tag.<name>=true` run tags (MLflow tags are key/value)."""
        live = self._live()
        if live is not None:
            for tag in tags:
                live[0].set_tag(live[1], f"tag.{tag}", "true")

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Terminate the MLflow run with the matching status."""
        live = self._live()
        if live is None:
            return
        backend, run_id = live
        self._backend = None
        backend.set_tag(run_id, "nemotron.exit_code", str(exit_code))
        backend.terminate(run_id, _STATUS[status])
