"""`start_run`: the current run, wired into kit-artifacts so lineage needs no recipe code.

While a run is active it is kit-artifacts' hook listener (every `${art:...}` resolution
and `Cls.from_uri` becomes an input, every `save()`/`publish` an output) and its producer
provider (each published version records this run id, argv, git state, config digest and
code digest, as the launcher handed them over: `kit_artifacts.hooks.code_identity`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from kit_artifacts import hooks
from kit_config import RUN_ID_ENV as ENV_RUN_ID
from kit_config import config_digest, new_run_id, process_rank, scrub_text, world_size
from kit_config import scrub_secrets as scrub
from kit_track._config import config_to_dict
from kit_track._env import utc_now
from kit_track._file import FileTracker
from kit_track._guard import ErrorBook, TrackerGuard
from kit_track._protocol import (
    ErrorSink,
    RunInfo,
    RunStatus,
    TagSink,
    Tracker,
    TrackerErrorRecord,
)
from kit_track._selection import trackers_from_settings
from kit_track.errors import RunStateError, TrackerConfigError

__all__ = ["Run", "RunSummary", "current_run", "start_run", "status_for_exit_code"]

_log = logging.getLogger("kit_track")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_active: Run | None = None
_active_lock = threading.Lock()


def status_for_exit_code(exit_code: int) -> RunStatus:
    """0 is success, 130 (SIGINT) and 143 (SIGTERM) are cancellation, the rest failure."""
    if exit_code == 0:
        return "succeeded"
    return "cancelled" if exit_code in (130, 143) else "failed"


@attrs.frozen(kw_only=True)
class RunSummary:
    """What a finished run recorded, and which trackers failed (never silent)."""

    run_id: str
    status: RunStatus
    exit_code: int
    run_dir: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tracker_errors: tuple[TrackerErrorRecord, ...]

    def describe(self) -> str:
        """One line for the log: status, lineage counts, and each tracker failure."""
        text = (
            f"run {self.run_id} {self.status} (exit {self.exit_code}): "
            f"{len(self.inputs)} input(s), {len(self.outputs)} output(s)"
        )
        if self.run_dir:
            text += f", record {self.run_dir}"
        if self.tracker_errors:
            failures = "; ".join(
                f"{e.tracker}.{e.operation} x{e.count}: {e.message}" for e in self.tracker_errors
            )
            text += f"; {len(self.tracker_errors)} tracker error(s): {failures}"
        return text


class Run:
    """An active run: fans every record out to its trackers under the failure policy."""

    def __init__(self, info: RunInfo, trackers: Sequence[Tracker]) -> None:
        self.info = info
        self._book = ErrorBook()
        self._guards: list[TrackerGuard] = []
        self._seen: set[tuple[str, str]] = set()
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._tags: list[str] = list(info.tags)
        self._lock = threading.RLock()
        self._meta: dict[str, dict[str, str]] = {}
        self._warned_after_finish = False
        self.summary: RunSummary | None = None
        for tracker in trackers:
            self._guards.append(TrackerGuard(tracker, self._book, self._push_errors))

    # -- identity ---------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """This run's id."""
        return self.info.run_id

    @property
    def run_dir(self) -> str | None:
        """The FileTracker directory of this run, if a FileTracker is in use."""
        return self.info.run_dir

    @property
    def is_rank_zero(self) -> bool:
        """Whether this process writes the run record and should publish artifacts."""
        return self.info.is_rank_zero

    @property
    def finished(self) -> bool:
        """Whether `finish` already ran."""
        return self.summary is not None

    @property
    def trackers(self) -> tuple[Tracker, ...]:
        """The trackers this run writes to."""
        return tuple(g.tracker for g in self._guards)

    @property
    def tracker_errors(self) -> tuple[TrackerErrorRecord, ...]:
        """Tracker failures so far."""
        return self._book.records()

    def producer(self) -> hooks.Producer:
        """The producer recorded in every version this run publishes."""
        return hooks.Producer(
            run_id=self.info.run_id,
            argv=self.info.argv,
            git_commit=self.info.git_commit,
            git_dirty=self.info.git_dirty,
            config_digest=self.info.config_digest,
            code_digest=self.info.code_digest,
        )

    # -- fan-out ----------------------------------------------------------------------
    def _fan(self, operation: str, *args: Any, **kwargs: Any) -> None:
        for guard in self._guards:
            fn = getattr(guard.tracker, operation, None)
            if fn is not None:
                guard.call(operation, fn, *args, **kwargs)

    def _push_errors(self) -> None:
        records = self._book.records()
        for guard in self._guards:
            if isinstance(guard.tracker, ErrorSink):
                # A sink that fails is itself recorded; the book de-duplicates the loop.
                guard.call("record_tracker_errors", guard.tracker.record_tracker_errors, records)

    def _start(self) -> None:
        with self._lock:
            self._fan("start", self.info)

    def attach(self, tracker: Tracker) -> None:
        """Add a tracker to a running run (what `init_wandb_if_configured` does)."""
        with self._lock:
            if self.finished:
                raise RunStateError(f"run {self.run_id} already finished", run_id=self.run_id)
            guard = TrackerGuard(tracker, self._book, self._push_errors)
            self._guards.append(guard)
            if guard.call("start", tracker.start, attrs.evolve(self.info, tags=tuple(self._tags))):
                for uri in self._inputs:
                    guard.call("log_input", tracker.log_input, uri, **self._meta[uri])
                for uri in self._outputs:
                    guard.call("log_output", tracker.log_output, uri, **self._meta[uri])

    def close_tracker(self, tracker: Tracker, status: RunStatus, exit_code: int = 0) -> None:
        """Finish one tracker early and stop writing to it (failures go to this run's record)."""
        with self._lock:
            for guard in self._guards:
                if guard.tracker is tracker:
                    guard.call("finish", tracker.finish, status, exit_code)
            self._guards = [g for g in self._guards if g.tracker is not tracker]

    def _record(self, kind: str, uri: str, artifact_type: str, path: str) -> None:
        with self._lock:
            if (kind, uri) in self._seen:
                return
            self._seen.add((kind, uri))
            self._meta[uri] = {"artifact_type": artifact_type, "path": path}
            (self._inputs if kind == "input" else self._outputs).append(uri)
            self._fan(f"log_{kind}", uri, artifact_type=artifact_type, path=path)

    def log_input(self, uri: str, *, artifact_type: str = "", path: str = "") -> None:
        """Record an input artifact (done for you for `${art:...}` and `from_uri`)."""
        self._record("input", uri, artifact_type, path)

    def log_output(self, uri: str, *, artifact_type: str = "", path: str = "") -> None:
        """Record an output artifact (done for you for `save()`/`publish`)."""
        self._record("output", uri, artifact_type, path)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record scalar metrics in every tracker (ignored, with one warning, after finish)."""
        if self.summary is not None:
            if not self._warned_after_finish:
                self._warned_after_finish = True
                _log.warning("run %s already finished; metrics after finish are dropped",
                             self.run_id)
            return
        self._fan("log_metrics", dict(metrics), step)

    def add_tags(self, *tags: str) -> None:
        """Add tags to the run in every tracker that supports tags."""
        new = tuple(t for t in tags if t not in self._tags)
        if not new:
            return
        self._tags.extend(new)
        for guard in self._guards:
            if isinstance(guard.tracker, TagSink):
                guard.call("add_tags", guard.tracker.add_tags, new)

    def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
        """kit-artifacts hook: `used` becomes an input, `published` an output."""
        kind = "input" if event.kind == "used" else "output"
        self._record(kind, event.uri, event.artifact_type, event.path)

    def finish(self, status: RunStatus, exit_code: int = 0) -> RunSummary:
        """Close every tracker once and log the summary (tracker failures included)."""
        with self._lock:
            if self.summary is not None:
                return self.summary
            if self._book.records():
                self._push_errors()
            self._fan("finish", status, exit_code)
            self.summary = RunSummary(
                run_id=self.run_id,
                status=status,
                exit_code=exit_code,
                run_dir=self.run_dir,
                inputs=tuple(self._inputs),
                outputs=tuple(self._outputs),
                tracker_errors=self._book.records(),
            )
        level = logging.WARNING if self.summary.tracker_errors else logging.INFO
        _log.log(level, "%s", scrub_text(self.summary.describe()))
        return self.summary


def current_run() -> Run | None:
    """The run started by the innermost active `start_run` in this process, if any."""
    return _active


def _resolve_run_id(run_id: str | None) -> str:
    chosen = run_id or os.environ.get(ENV_RUN_ID) or new_run_id()
    if not _RUN_ID_RE.match(chosen):
        raise TrackerConfigError(
            "run_id", chosen, "must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 128 chars)",
            hint=f"unset {ENV_RUN_ID} or pass a valid run_id",
        )
    return chosen


@contextlib.contextmanager
def start_run(
    *,
    stage: str,
    config: object = None,
    tags: Sequence[str] = (),
    trackers: Sequence[Tracker] | None = None,
    run_id: str | None = None,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Iterator[Run]:
    """Start a run, make it current, and finish it with the status the block ends with.

    Leaving normally is `succeeded`; `SystemExit(n)` maps by exit code; KeyboardInterrupt
    is `cancelled`; any other exception is `failed` and propagates.
    """
    global _active
    if not stage or not isinstance(stage, str):
        raise TrackerConfigError("stage", stage, "must be a non-empty string")
    with _active_lock:
        if _active is not None:
            raise RunStateError(
                f"run {_active.run_id} is already active in this process",
                hint="finish it before starting another (runs do not nest)",
                run_id=_active.run_id,
            )
    chosen_id = _resolve_run_id(run_id)
    rank = process_rank()
    identity = hooks.code_identity()
    # The producer and listener go in before the config is resolved, so `${art:...}`
    # interpolations in the config itself are recorded as inputs.
    pending: list[hooks.ArtifactEvent] = []
    remove_listener = hooks.add_listener(_Buffer(pending))
    try:
        plain = config_to_dict(config)
    finally:
        remove_listener()
    # FileTracker always; W&B and MLflow when configured (see README: tracker selection).
    chosen = list(trackers) if trackers is not None else trackers_from_settings(plain)
    file_root = next((t.run_dir_for(chosen_id) for t in chosen if isinstance(t, FileTracker)),
                     None)
    info = RunInfo(
        run_id=chosen_id,
        stage=stage,
        name=name or f"{stage}-{chosen_id}",
        config=plain,
        tags=tuple(dict.fromkeys(tags)),
        argv=tuple(scrub(list(sys.argv if argv is None else argv))),
        git_commit=identity.git_commit,
        git_dirty=identity.git_dirty,
        code_digest=identity.code_digest,
        config_digest=config_digest(plain),
        host=socket.gethostname(),
        pid=os.getpid(),
        rank=rank,
        world_size=world_size(),
        started_at=utc_now(),
        python=platform.python_version(),
        run_dir=str(file_root) if file_root is not None else None,
    )
    run = Run(info, chosen)
    previous_env = os.environ.get(ENV_RUN_ID)
    with _active_lock:
        _active = run
    os.environ[ENV_RUN_ID] = chosen_id  # child processes (torchrun ranks) join this run
    hooks.set_producer_provider(run.producer)
    remove = hooks.add_listener(run)
    restore_sigterm = _install_sigterm_exit()
    try:
        run._start()
        for event in pending:
            run.on_artifact_event(event)
            if event.kind == "used":  # set_producer_provider cleared the used log
                hooks.record_used(event.uri)
        yield run
    except KeyboardInterrupt:
        run.finish("cancelled", 130)
        raise
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        run.finish(status_for_exit_code(code), code)
        raise
    except BaseException:
        run.finish("failed", 1)
        raise
    else:
        run.finish("succeeded", 0)
    finally:
        restore_sigterm()
        remove()
        hooks.set_producer_provider(None)
        if previous_env is None:
            os.environ.pop(ENV_RUN_ID, None)
        else:
            os.environ[ENV_RUN_ID] = previous_env
        with _active_lock:
            _active = None


def _install_sigterm_exit() -> Callable[[], None]:
    """Turn SIGTERM (Slurm's scancel, preemption) into SystemExit(143) during the run.

    Python's default SIGTERM kills the process without running `finally`, which would
    leave the record `running` forever. Only done in the main thread, and only when no
    one (a training framework) installed a handler of their own.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def on_sigterm(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return restore


@attrs.define
class _Buffer:
    """Collects artifact events raised while the config is resolved, before trackers start."""

    events: list[hooks.ArtifactEvent]

    def on_artifact_event(self, event: hooks.ArtifactEvent) -> None:
        self.events.append(event)
