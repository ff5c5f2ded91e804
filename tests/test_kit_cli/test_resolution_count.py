"""One `${art:...}` input through plan + launch + job: the registry resolves it exactly twice."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from kit_artifacts import Artifact, ArtifactRegistry, hooks
from kit_cli._argv import parse_stage_argv
from kit_cli._plan import plan_stage
from kit_cli._runner import launch_plan


@attrs.define
class JobConfig:
    """The demo stage's config, its input typed."""

    data: Artifact
    train: dict[str, Any]
    out: str


@pytest.mark.parametrize("written", ["${art:demo-data}", "art://demo-data"],
                         ids=["interpolation", "uri"])
def test_plan_then_job_resolve_each_input_once(written, demo_recipe, config_dir, publish_data,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Once at plan time (pinning), once in the job; provenance resolves nothing."""
    (config_dir / "typed.yaml").write_text(f"data: {written}\n"
                                           "train:\n  lr: 0.1\n  steps: 2\nout: result\n")
    pinned_uri = publish_data()
    resolves: list[str] = []
    real = ArtifactRegistry.resolve

    def spy(self: ArtifactRegistry, uri_or_name: Any) -> Any:
        resolves.append(str(uri_or_name))
        return real(self, uri_or_name)

    monkeypatch.setattr(ArtifactRegistry, "resolve", spy)
    used: list[str] = []

    class Listener:
        def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
            if event.kind == "used":
                used.append(event.uri)

    remove = hooks.add_listener(Listener())
    jobs: list[JobConfig] = []

    def run_job_here(plan: Any, record: Any, config_file: Path) -> int:
        from kit_config import load_config, structure

        jobs.append(structure(load_config(config_file), JobConfig))
        return 0

    monkeypatch.setattr("kit_cli._runner._execute", run_job_here)
    try:
        argv = ["-c", "typed"]
        plan = plan_stage(demo_recipe, demo_recipe.stage("train"), parse_stage_argv(argv), argv)
        assert len(resolves) == 1  # plan time
        launch = launch_plan(plan)
    finally:
        remove()
    assert launch.ok and launch.launch_dir is not None
    assert len(resolves) == 2  # + the job; provenance added none
    assert used == [pinned_uri]  # the job's one `used` event; planning records none
    (job,) = jobs
    assert (Path(job.data.path) / "part-0.txt").read_text() == "hello\n"  # the typed input
    record = json.loads((launch.launch_dir / "provenance" / "provenance.json").read_text())
    assert record["pins"] == {"art://demo-data": pinned_uri}
    pinned_written = written.replace("demo-data", pinned_uri.removeprefix("art://"))
    assert record["config"]["data"] == pinned_written  # stored pinned, unresolved
