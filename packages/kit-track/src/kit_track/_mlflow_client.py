"""The MLflow boundary: a small Protocol in plain data, the real `MlflowClient`, a fake.

`MlflowTracker`'s logic (what becomes a param, a dataset input, a logged model) is unit
tested against `FakeMlflowBackend`, and run for real against a SQLite store.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["FakeMlflowBackend", "MlflowBackend", "RealMlflowBackend"]

_BATCH = 100  # MLflow's limit on params per log_batch


class MlflowBackend(Protocol):
    """What MlflowTracker needs from MLflow, in plain values."""

    def open_run(self, experiment: str, artifact_location: str | None, run_name: str,
                 tags: Mapping[str, str]) -> tuple[str, str]:
        """Create the experiment if needed and a run in it; (experiment id, run id)."""
        ...

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Log params."""
        ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Log metrics at a step."""
        ...

    def log_dict(self, run_id: str, data: Mapping[str, Any], artifact_file: str) -> None:
        """Store a JSON document among the run's artifacts."""
        ...

    def log_dataset_input(self, run_id: str, name: str, digest: str, source: str,
                          context: str) -> None:
        """Record a dataset input of the run."""
        ...

    def log_model_output(self, run_id: str, experiment_id: str, name: str,
                         tags: Mapping[str, str], model_type: str) -> str:
        """Create a READY logged model from the run and link it as output; its id."""
        ...

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Set a run tag."""
        ...

    def terminate(self, run_id: str, status: str) -> None:
        """Close the run with FINISHED, FAILED or KILLED."""
        ...


class RealMlflowBackend:
    """MLflow through `MlflowClient` (imported on creation, never at module import)."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient  # pants: no-infer-dep

        self.client: Any = MlflowClient(tracking_uri=tracking_uri)

    def open_run(self, experiment: str, artifact_location: str | None, run_name: str,
                 tags: Mapping[str, str]) -> tuple[str, str]:
        """get_experiment_by_name / create_experiment, then create_run."""
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id
            if found is not None
            else self.client.create_experiment(experiment, artifact_location=artifact_location)
        )
        run = self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        return str(experiment_id), str(run.info.run_id)

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """log_batch in chunks of MLflow's limit."""
        from mlflow.entities import Param  # pants: no-infer-dep

        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(run_id, params=items[i : i + _BATCH])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """One log_batch."""
        from mlflow.entities import Metric  # pants: no-infer-dep

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in
                                               metrics.items()])

    def log_dict(self, run_id: str, data: Mapping[str, Any], artifact_file: str) -> None:
        """MlflowClient.log_dict."""
        self.client.log_dict(run_id, dict(data), artifact_file)

    def log_dataset_input(self, run_id: str, name: str, digest: str, source: str,
                          context: str) -> None:
        """log_inputs with one DatasetInput tagged with its context."""
        from mlflow.entities import Dataset, DatasetInput, InputTag  # pants: no-infer-dep

        dataset = Dataset(name=name, digest=digest, source_type="nemotron", source=source)
        tag = InputTag(key="mlflow.data.context", value=context)  # pants: no-infer-dep
        self.client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset, tags=[tag])])

    def log_model_output(self, run_id: str, experiment_id: str, name: str,
                         tags: Mapping[str, str], model_type: str) -> str:
        """create_logged_model + finalize_logged_model(READY) + log_outputs."""
        from mlflow.entities import LoggedModelOutput  # pants: no-infer-dep

        model = self.client.create_logged_model(
            experiment_id, name=name, source_run_id=run_id, tags=dict(tags),
            model_type=model_type,
        )
        self.client.finalize_logged_model(model.model_id, "READY")
        self.client.log_outputs(run_id, [LoggedModelOutput(model_id=model.model_id, step=0)])
        return str(model.model_id)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """MlflowClient.set_tag."""
        self.client.set_tag(run_id, key, value)

    def terminate(self, run_id: str, status: str) -> None:
        """MlflowClient.set_terminated."""
        self.client.set_terminated(run_id, status=status)


class FakeMlflowBackend:
    """Records every call; `fail={"log_metrics": exc}` makes that operation raise."""

    def __init__(self, *, fail: Mapping[str, BaseException] | None = None) -> None:
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.experiments: dict[str, str] = {}
        self._runs = 0

    def _call(self, op: str, **kwargs: Any) -> None:
        if op in self.fail:
            raise self.fail[op]
        self.calls.append((op, kwargs))

    def ops(self) -> list[str]:
        """Operation names in call order."""
        return [op for op, _ in self.calls]

    def open_run(self, experiment: str, artifact_location: str | None, run_name: str,
                 tags: Mapping[str, str]) -> tuple[str, str]:
        """Create ids like MLflow would."""
        self._call("open_run", experiment=experiment, artifact_location=artifact_location,
                   run_name=run_name, tags=dict(tags))
        experiment_id = self.experiments.setdefault(experiment, str(len(self.experiments)))
        self._runs += 1
        return experiment_id, f"run{self._runs}"

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Record params."""
        self._call("log_params", run_id=run_id, params=dict(params))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Record metrics."""
        self._call("log_metrics", run_id=run_id, metrics=dict(metrics), step=step)

    def log_dict(self, run_id: str, data: Mapping[str, Any], artifact_file: str) -> None:
        """Record a JSON artifact."""
        self._call("log_dict", run_id=run_id, data=dict(data), artifact_file=artifact_file)

    def log_dataset_input(self, run_id: str, name: str, digest: str, source: str,
                          context: str) -> None:
        """Record a dataset input."""
        self._call("log_dataset_input", run_id=run_id, name=name, digest=digest, source=source,
                   context=context)

    def log_model_output(self, run_id: str, experiment_id: str, name: str,
                         tags: Mapping[str, str], model_type: str) -> str:
        """Record a logged model; return its id."""
        self._call("log_model_output", run_id=run_id, experiment_id=experiment_id, name=name,
                   tags=dict(tags), model_type=model_type)
        return f"m-{name}"

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Record a tag."""
        self._call("set_tag", run_id=run_id, key=key, value=value)

    def terminate(self, run_id: str, status: str) -> None:
        """Record the final status."""
        self._call("terminate", run_id=run_id, status=status)
