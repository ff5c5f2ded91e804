"""The failure policy: a tracker error never kills the run and is never silent.

Every call into a tracker goes through `TrackerGuard.call`. A failure is logged once per
(tracker, operation) with its reason, counted, and handed to the run's error sinks (the
run record); a tracker whose `start` failed is disabled for the rest of the run, so a dead
backend costs one warning, not one per training step.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs

from kit_config import scrub_text
from kit_track._env import utc_now
from kit_track._protocol import Tracker, TrackerErrorRecord
from kit_track.errors import TrackerError

__all__ = ["ErrorBook", "TrackerGuard"]

_log = logging.getLogger("kit_track")


class ErrorBook:
    """The tracker failures of one run, first occurrence kept, repeats counted."""

    def __init__(self) -> None:
        self._errors: dict[tuple[str, str], TrackerErrorRecord] = {}
        self._lock = threading.Lock()

    def add(self, error: TrackerError) -> bool:
        """Record a failure; True when it is the first for its (tracker, operation)."""
        key = (error.tracker, error.operation)
        with self._lock:
            known = self._errors.get(key)
            if known is not None:
                self._errors[key] = attrs.evolve(known, count=known.count + 1)
                return False
            self._errors[key] = TrackerErrorRecord(
                tracker=error.tracker,
                operation=error.operation,
                error_type=type(error.cause).__name__,
                message=scrub_text(error.message),
                time=utc_now(),
            )
            return True

    def records(self) -> tuple[TrackerErrorRecord, ...]:
        """All failures so far, in first-seen order."""
        with self._lock:
            return tuple(self._errors.values())


class TrackerGuard:
    """Wraps one tracker: calls that raise are recorded instead of propagating."""

    def __init__(
        self,
        tracker: Tracker,
        book: ErrorBook,
        on_new_error: Callable[[], None] | None = None,
    ) -> None:
        self.tracker = tracker
        self.book = book
        self.enabled = True
        self._on_new_error = on_new_error

    @property
    def name(self) -> str:
        """The wrapped tracker's name."""
        try:
            return str(self.tracker.name)
        except Exception:  # a tracker whose name property breaks is still reported
            return type(self.tracker).__name__

    def call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run `fn`; on failure record it and return False (True on success)."""
        if not self.enabled:
            return False
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # the policy: never let a tracker kill the run
            error = TrackerError(self.name, operation, exc)
            if operation == "start":
                self.enabled = False
            if self.book.add(error):
                suffix = "; tracker disabled for this run" if operation == "start" else ""
                _log.warning("%s%s", scrub_text(str(error)), suffix)
                if self._on_new_error is not None:
                    self._on_new_error()
            return False
        return True
