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
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kit_track._env import nemotron_home
from kit_track._protocol import RunInfo, RunStatus

__all__ = ["MlflowTracker", "flatten_params"]

_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
_PARAM_VALUE_MAX = 6000  # MLflow 3's limit on a param value
_BATCH = 100  # MLflow's limit on params per log_batch
_NAME = re.compile(r"^art://(?P<name>[^:/]+)")


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
    match = _NAME.match(uri)
    return match["name"] if match else re.sub(r"[^A-Za-z0-9._-]+", "-", uri)[:200]


class MlflowTracker:
    """Writes the run to MLflow (rank 0 only)."""

    name = "mlflow"

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.mlflow_run_id: str | None = None
        self.experiment_id: str | None = None
        self.model_ids: dict[str, str] = {}
        self._client: Any = None
        self._outputs: list[dict[str, str]] = []

    def _resolve_uri(self) -> tuple[str, str | None]:
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            base = nemotron_home() / "mlflow"
            base.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{base / 'mlflow.db'}"
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
        from mlflow import MlflowClient
        from mlflow.entities import Param

        uri, artifact_root = self._resolve_uri()
        client = MlflowClient(tracking_uri=uri)
        name = self.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "nemotron"
        found = client.get_experiment_by_name(name)
        self.experiment_id = (
            found.experiment_id
            if found is not None
            else client.create_experiment(name, artifact_location=artifact_root)
        )
        tags = {
            "nemotron.run_id": run.run_id,
            "nemotron.stage": run.stage,
            "nemotron.host": run.host,
            "nemotron.argv": " ".join(run.argv)[:_PARAM_VALUE_MAX],
            "nemotron.config_digest": run.config_digest or "",
            **{f"tag.{t}": "true" for t in run.tags},
        }
        if run.git_commit:
            tags["mlflow.source.git.commit"] = run.git_commit
        created = client.create_run(self.experiment_id, run_name=run.name, tags=tags)
        self.mlflow_run_id = created.info.run_id
        self._client = client
        params = [Param(k, v) for k, v in flatten_params(run.config)]
        for i in range(0, len(params), _BATCH):
            client.log_batch(self.mlflow_run_id, params=params[i : i + _BATCH])
        client.log_dict(self.mlflow_run_id, dict(run.config), "nemotron/config.json")

    def _live(self) -> tuple[Any, str] | None:
        if self._client is None or self.mlflow_run_id is None:
            return None
        return self._client, self.mlflow_run_id

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Log the artifact as an MLflow dataset input of the run."""
        live = self._live()
        if live is None:
            return
        from mlflow.entities import Dataset, DatasetInput, InputTag

        client, run_id = live
        dataset = Dataset(
            name=_artifact_name(uri),
            digest=hashlib.sha256(uri.encode()).hexdigest()[:16],
            source_type="nemotron",
            source=json.dumps({"uri": uri, "path": path, "type": artifact_type}),
        )
        context = InputTag(key="mlflow.data.context", value="input")
        client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset, tags=[context])])

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Models become logged models linked to the run; other outputs run tags."""
        live = self._live()
        if live is None:
            return
        client, run_id = live
        self._outputs.append({"uri": uri, "artifact_type": artifact_type, "path": path})
        client.log_dict(run_id, {"outputs": self._outputs}, "nemotron/outputs.json")
        if "model" in artifact_type.lower():
            from mlflow.entities import LoggedModelOutput

            model = client.create_logged_model(
                self.experiment_id,
                name=_artifact_name(uri),
                source_run_id=run_id,
                tags={"nemotron.uri": uri, "nemotron.path": path},
                model_type=artifact_type,
            )
            client.finalize_logged_model(model.model_id, "READY")
            client.log_outputs(run_id, [LoggedModelOutput(model_id=model.model_id, step=0)])
            self.model_ids[uri] = model.model_id
        else:
            client.set_tag(run_id, f"nemotron.output.{_artifact_name(uri)}", uri)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics in one batch."""
        live = self._live()
        if live is None:
            return
        from mlflow.entities import Metric

        client, run_id = live
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        client.log_batch(run_id, metrics=batch)

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
        client, run_id = live
        client.set_tag(run_id, "nemotron.exit_code", str(exit_code))
        client.set_terminated(run_id, status=_STATUS[status])
        self._client = None
