"""`FileTracker`: the default, embedded tracker: one directory per run.

Layout of `$NEMOTRON_HOME/runs/<run_id>/` (see README):

- `run.json`: the run record (config, argv, code version, host, times, status, tags,
  tracker errors), written by rank 0 only, atomically, at start and at finish;
- `inputs.jsonl`, `outputs.jsonl`: artifacts consumed and produced (rank 0);
- `metrics.jsonl`: metrics of rank 0; other ranks append to `metrics.rank<N>.jsonl`,
  so ranks of one job never write the same file;
- `errors.jsonl`: failures of the other trackers, as they happen.
"""
from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from kit_config import atomic_write_json, home_dir, scrub_secrets
from kit_track._env import utc_now
from kit_track._jsonio import read_json
from kit_track._protocol import RunInfo, RunStatus, TrackerErrorRecord
from kit_track.errors import RunStateError

__all__ = [
    "FileTracker",
    "RECORD_FORMAT",
    "run_record_path",
]

# 2 added `code_digest`; readers take records of either format.
RECORD_FORMAT = 2
_RUN_FILE = "run.json"


def run_record_path(run_dir: Path) -> Path:
    """The run record file inside a run directory."""
    return run_dir / _RUN_FILE


def _json_number(value: float) -> float | str:
    # JSON has no NaN/inf; keep them readable instead of writing invalid JSON.
    return value if math.isfinite(value) else str(value)


class FileTracker:
    """Writes the run record under `root` (default `$NEMOTRON_HOME/runs`)."""

    name = "file"

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self._run: RunInfo | None = None
        self._dir: Path | None = None
        self._record: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._errors_seen = 0
        # Open JSON-lines files, line-buffered: one flushed line per record, no reopen cost.
        self._files: dict[str, TextIO] = {}

    @property
    def root(self) -> Path:
        """The directory that holds one sub-directory per run."""
        return self._root if self._root is not None else home_dir("runs")

    def run_dir_for(self, run_id: str) -> Path:
        """The directory this tracker uses for `run_id`."""
        return self.root / run_id

    @property
    def run_dir(self) -> Path | None:
        """This run's directory once started."""
        return self._dir

    def _suffix(self) -> str:
        assert self._run is not None
        return "" if self._run.is_rank_zero else f".rank{self._run.rank}"

    def _append(self, name: str, entry: Mapping[str, Any]) -> None:
        """Append one JSON line to `name` in the run directory (caller holds the lock)."""
        _, run_dir = self._need_run()
        fh = self._files.get(name)
        if fh is None:
            fh = self._files[name] = (run_dir / name).open("a", encoding="utf-8", buffering=1)
        fh.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")

    def _close_files(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def _need_run(self) -> tuple[RunInfo, Path]:
        if self._run is None or self._dir is None:
            raise RunStateError("FileTracker used before start()", hint="call start(run) first")
        return self._run, self._dir

    def start(self, run: RunInfo) -> None:
        """Create the run directory; rank 0 writes the initial run record."""
        self._run = run
        self._dir = self.run_dir_for(run.run_id)
        self._dir.mkdir(parents=True, exist_ok=True)
        if not run.is_rank_zero:
            return
        path = run_record_path(self._dir)
        # A requeued job reuses its run id: count attempts instead of losing the first.
        attempt = int(read_json(path).get("attempt", 1)) + 1 if path.exists() else 1
        fields = attrs.asdict(run, recurse=False)
        fields.pop("run_dir", None)
        self._record = {
            "format": RECORD_FORMAT,
            **scrub_secrets({k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}),
            "attempt": attempt,
            "status": "running",
            "exit_code": None,
            "finished_at": None,
            "tracker_errors": [],
        }
        atomic_write_json(path, self._record)

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Append an input artifact to `inputs.jsonl` (rank 0)."""
        self._log_artifact("inputs", uri, artifact_type, path)

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Append an output artifact to `outputs.jsonl` (rank 0)."""
        self._log_artifact("outputs", uri, artifact_type, path)

    def _log_artifact(self, kind: str, uri: str, artifact_type: str, path: str) -> None:
        run, run_dir = self._need_run()
        if not run.is_rank_zero:
            return
        entry = {"uri": uri, "artifact_type": artifact_type, "path": path, "time": utc_now()}
        with self._lock:
            self._append(f"{kind}.jsonl", entry)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Append one metrics line (per-rank file on ranks other than 0)."""
        self._need_run()
        values = {str(k): _json_number(float(v)) for k, v in metrics.items()}
        entry = {"step": step, "time": utc_now(), "metrics": values}
        with self._lock:
            self._append(f"metrics{self._suffix()}.jsonl", entry)

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Add tags to the run record (rank 0)."""
        run, run_dir = self._need_run()
        if not run.is_rank_zero:
            return
        with self._lock:
            known = list(self._record.get("tags", []))
            self._record["tags"] = known + [t for t in tags if t not in known]
            atomic_write_json(run_record_path(run_dir), self._record)

    def record_tracker_errors(self, errors: Sequence[TrackerErrorRecord]) -> None:
        """Store tracker failures: new ones to `errors.jsonl`, all in the run record.

        The run record is rewritten at once so a job killed later still shows the gap.
        """
        run, run_dir = self._need_run()
        entries = [scrub_secrets(attrs.asdict(e)) for e in errors]
        with self._lock:
            for entry in entries[self._errors_seen :]:
                self._append(f"errors{self._suffix()}.jsonl", entry)
            self._errors_seen = max(self._errors_seen, len(entries))
            if run.is_rank_zero:
                self._record["tracker_errors"] = entries
                atomic_write_json(run_record_path(run_dir), self._record)

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Rank 0 rewrites the run record with the final status."""
        run, run_dir = self._need_run()
        with self._lock:
            self._close_files()
            if not run.is_rank_zero:
                return
            self._record.update(status=status, exit_code=exit_code, finished_at=utc_now())
            atomic_write_json(run_record_path(run_dir), self._record)
