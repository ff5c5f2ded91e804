"""Reading run records back: `load_run`, `list_runs` (for `nemotron runs`, `rerun`, `sync`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs

from kit_config import home_dir
from kit_track._file import run_record_path
from kit_track._jsonio import read_json, read_jsonl
from kit_track._protocol import TrackerErrorRecord
from kit_track.errors import RunNotFoundError, RunRecordError

__all__ = ["ArtifactUse", "MetricPoint", "RunRecord", "list_runs", "load_run"]

_log = logging.getLogger("kit_track")


@attrs.frozen(kw_only=True)
class ArtifactUse:
    """One input or output artifact of a run."""

    uri: str
    artifact_type: str
    path: str
    time: str = ""


@attrs.frozen(kw_only=True)
class MetricPoint:
    """One `log_metrics` call as stored: step (may be None), time, values."""

    step: int | None
    time: str
    metrics: dict[str, float | str]


@attrs.frozen(kw_only=True)
class RunRecord:
    """A run as recorded by the FileTracker."""

    run_id: str
    stage: str
    name: str
    status: str
    exit_code: int | None
    started_at: str
    finished_at: str | None
    config: dict[str, Any]
    tags: tuple[str, ...]
    argv: tuple[str, ...]
    git_commit: str | None
    git_dirty: bool | None
    config_digest: str | None
    host: str
    world_size: int
    attempt: int
    tracker_errors: tuple[TrackerErrorRecord, ...]
    inputs: tuple[ArtifactUse, ...]
    outputs: tuple[ArtifactUse, ...]
    run_dir: str
    code_digest: str | None = None  # absent in format-1 records

    def metrics(self, rank: int = 0) -> list[MetricPoint]:
        """The metrics one rank logged, in order."""
        suffix = "" if rank == 0 else f".rank{rank}"
        path = Path(self.run_dir) / f"metrics{suffix}.jsonl"
        return [
            MetricPoint(step=e.get("step"), time=str(e.get("time", "")), metrics=e["metrics"])
            for e in read_jsonl(path)
            if isinstance(e.get("metrics"), dict)
        ]


def _uses(path: Path) -> tuple[ArtifactUse, ...]:
    seen: dict[str, ArtifactUse] = {}
    for entry in read_jsonl(path):
        try:
            use = ArtifactUse(
                uri=str(entry["uri"]),
                artifact_type=str(entry.get("artifact_type", "")),
                path=str(entry.get("path", "")),
                time=str(entry.get("time", "")),
            )
        except KeyError as exc:
            raise RunRecordError(str(path), f"entry without {exc.args[0]!r}") from exc
        seen.setdefault(use.uri, use)
    return tuple(seen.values())


def _read_record(run_dir: Path) -> RunRecord:
    path = run_record_path(run_dir)
    data = read_json(path)
    missing = [k for k in ("run_id", "stage", "status", "started_at") if k not in data]
    if missing:
        raise RunRecordError(str(path), f"missing field(s) {', '.join(missing)}")
    try:
        errors = tuple(TrackerErrorRecord(**e) for e in data.get("tracker_errors", []))
    except TypeError as exc:
        raise RunRecordError(str(path), f"bad tracker_errors entry ({exc})") from exc
    return RunRecord(
        run_id=str(data["run_id"]),
        stage=str(data["stage"]),
        name=str(data.get("name", data["stage"])),
        status=str(data["status"]),
        exit_code=data.get("exit_code"),
        started_at=str(data["started_at"]),
        finished_at=data.get("finished_at"),
        config=dict(data.get("config") or {}),
        tags=tuple(data.get("tags") or ()),
        argv=tuple(data.get("argv") or ()),
        git_commit=data.get("git_commit"),
        git_dirty=data.get("git_dirty"),
        config_digest=data.get("config_digest"),
        code_digest=data.get("code_digest"),
        host=str(data.get("host", "")),
        world_size=int(data.get("world_size", 1)),
        attempt=int(data.get("attempt", 1)),
        tracker_errors=errors,
        inputs=_uses(run_dir / "inputs.jsonl"),
        outputs=_uses(run_dir / "outputs.jsonl"),
        run_dir=str(run_dir),
    )


def load_run(run_id: str, *, root: str | Path | None = None) -> RunRecord:
    """Load one run record; `RunNotFoundError` (with recent ids) when there is none."""
    base = Path(root) if root is not None else home_dir("runs")
    run_dir = base / run_id
    if "/" in run_id or run_id in {"", ".", ".."} or not run_record_path(run_dir).is_file():
        known = sorted(p.name for p in base.glob("*") if run_record_path(p).is_file())
        raise RunNotFoundError(run_id, str(base), known)
    return _read_record(run_dir)


def list_runs(*, root: str | Path | None = None, stage: str | None = None) -> list[RunRecord]:
    """Every readable run record, oldest first; unreadable ones are logged and skipped."""
    base = Path(root) if root is not None else home_dir("runs")
    records: list[RunRecord] = []
    for run_dir in sorted(base.glob("*")):
        if not run_record_path(run_dir).is_file():
            continue
        try:
            record = _read_record(run_dir)
        except RunRecordError as exc:
            _log.warning("skipping run %s: %s", run_dir.name, exc)
            continue
        if stage is None or record.stage == stage:
            records.append(record)
    return records
