"""How higher layers (kit-track) hear about artifacts without kit-artifacts importing them.

kit-track installs a listener (told about every artifact used or published) and a producer
provider (which run is producing what this process publishes). Both are process-wide. The
used-input log is what `publish` records as a version's inputs when the caller gives none:
every pinned URI used since the producer provider was (re)set, in first-use order.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Literal, Protocol

import attrs

from kit_artifacts._ref import ArtifactRef

__all__ = [
    "ArtifactEvent",
    "ArtifactListener",
    "Producer",
    "RemoteResolver",
    "add_listener",
    "current_producer",
    "emit",
    "get_remote_resolver",
    "local_git_state",
    "record_used",
    "register_remote_resolver",
    "set_producer_provider",
    "used_inputs",
]

_log = logging.getLogger(__name__)


@attrs.frozen
class ArtifactEvent:
    """An artifact was used (read as an input) or published (written as an output)."""

    kind: Literal["used", "published"]
    ref: ArtifactRef | None  # registry artifacts; None for an external URI
    uri: str  # pinned art://name:vN, or an external URI (hf://, s3://, file path)
    artifact_type: str
    path: str


class ArtifactListener(Protocol):
    """Anything told about artifact events (kit-track's run is one)."""

    def on_artifact_event(self, event: ArtifactEvent) -> None: ...


@attrs.frozen
class Producer:
    """Who produced a published version: recorded in each version's record."""

    run_id: str  # "local" when no run is active
    argv: tuple[str, ...]
    git_commit: str | None
    git_dirty: bool | None
    config_digest: str | None


class RemoteResolver(Protocol):
    """Resolves the W&B form `art://ENTITY/PROJECT/NAME:VER` to a local artifact path."""

    def __call__(self, entity: str, project: str, name: str, version: str) -> str: ...


_lock = threading.RLock()
_listeners: list[ArtifactListener] = []
_failed_listeners: set[int] = set()  # ids of listeners already warned about
_provider: Callable[[], Producer | None] | None = None
_used: dict[str, None] = {}  # insertion-ordered set of used URIs
_remote_resolver: RemoteResolver | None = None


def add_listener(listener: ArtifactListener) -> Callable[[], None]:
    """Register `listener` for every later event; returns a function that removes it."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            for i, known in enumerate(_listeners):
                if known is listener:
                    del _listeners[i]
                    _failed_listeners.discard(id(listener))
                    return

    return remove


def set_producer_provider(fn: Callable[[], Producer | None] | None) -> None:
    """Install (or with None remove) the producer provider; also clears the used-input log."""
    global _provider
    with _lock:
        _provider = fn
        _used.clear()


@functools.lru_cache(maxsize=1)
def local_git_state() -> tuple[str | None, bool | None]:
    """Commit and dirty flag of the git checkout around the working directory (cached).

    Computed once per process: a publish loop must not fork git every time.
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return head.stdout.strip() or None, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def current_producer() -> Producer:
    """The provider's producer, or a `local` producer (this argv and git state)."""
    with _lock:
        provider = _provider
    if provider is not None:
        produced = provider()
        if produced is not None:
            return produced
    commit, dirty = local_git_state()
    return Producer(
        run_id="local",
        argv=tuple(sys.argv),
        git_commit=commit,
        git_dirty=dirty,
        config_digest=None,
    )


def record_used(uri: str) -> None:
    """Add `uri` to the used-input log without telling listeners (emit does both)."""
    with _lock:
        _used[uri] = None


def emit(event: ArtifactEvent) -> None:
    """Tell every listener; a listener that raises is warned about once and skipped."""
    if event.kind == "used":
        record_used(event.uri)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener.on_artifact_event(event)
        except Exception as exc:  # a broken tracker must never break training
            with _lock:
                first = id(listener) not in _failed_listeners
                _failed_listeners.add(id(listener))
            if first:
                _log.warning(
                    "artifact listener %r failed on %s %s: %s (further failures not logged)",
                    listener,
                    event.kind,
                    event.uri,
                    exc,
                )


def used_inputs() -> tuple[str, ...]:
    """Pinned URIs used in this process since the producer provider was last set."""
    with _lock:
        return tuple(_used)


def register_remote_resolver(fn: RemoteResolver | None) -> None:
    """Install (or with None remove) the resolver for W&B-form `art://E/P/NAME:VER` URIs."""
    global _remote_resolver
    with _lock:
        _remote_resolver = fn


def get_remote_resolver() -> RemoteResolver | None:
    """The installed W&B-form resolver, if any."""
    with _lock:
        return _remote_resolver
