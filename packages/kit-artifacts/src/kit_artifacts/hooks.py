"""How higher layers (kit-track) hear about artifacts without kit-artifacts importing them.

kit-track installs a listener (told about every artifact used or published) and a producer
provider (which run is producing what this process publishes). Both are process-wide. The
used-input log is what `publish` records as a version's inputs when the caller gives none:
every pinned URI used since the producer provider was (re)set, in first-use order.

Outside an explicit run (no provider), everything a process loads and publishes belongs to
one *implicit run* per process (`implicit_run()`): its inputs are logged once, in first-use
order, and the registry records them once per run; a version points at its run and at how
many of the run's inputs it had seen, instead of copying them (10,000 loads must not make
every later publish write 10,000 inputs).
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, Protocol

import attrs

from kit_artifacts._identity import (
    CODE_ENV,
    CodeIdentity,
    checkout_state,
    code_identity,
    file_digest,
)
from kit_artifacts._ref import ArtifactRef

__all__ = [
    "ArtifactEvent",
    "ArtifactListener",
    "CODE_ENV",
    "CodeIdentity",
    "ImplicitRun",
    "Producer",
    "RemoteResolver",
    "add_listener",
    "checkout_state",
    "code_identity",
    "current_producer",
    "emit",
    "file_digest",
    "get_remote_resolver",
    "implicit_run",
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
    code_digest: str | None = None  # `sha256:<hex>` of the PEX/archive that ran


@attrs.frozen
class ImplicitRun:
    """The implicit run of this process: its id, and its inputs from index `start` on."""

    run_id: str
    count: int  # inputs used so far (the log only grows)
    start: int
    new_inputs: tuple[str, ...]  # inputs[start:count]; empty unless asked for


class RemoteResolver(Protocol):
    """Resolves the W&B form `art://ENTITY/PROJECT/NAME:VER` to a local artifact path."""

    def __call__(self, entity: str, project: str, name: str, version: str) -> str: ...


_lock = threading.RLock()
_listeners: list[ArtifactListener] = []
_failed_listeners: set[int] = set()  # ids of listeners already warned about
_provider: Callable[[], Producer | None] | None = None
_used: dict[str, None] = {}  # insertion-ordered set of used URIs (explicit run)
_implicit_seen: set[str] = set()  # the implicit run's inputs, as a set and in order
_implicit_log: list[str] = []
_implicit_id: list[str] = []  # one id per process, made on first use
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


def _implicit_run_id() -> str:
    with _lock:
        if not _implicit_id:
            stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
            _implicit_id.append(f"implicit-{stamp}")
        return _implicit_id[0]


def implicit_run(start: int | None = None) -> ImplicitRun | None:
    """The implicit run (None while an explicit run's provider is set).

    Its inputs from index `start` on; none without `start` (a publish that has nothing new
    to record must not copy a long log).
    """
    with _lock:
        if _provider is not None:
            return None
        count = len(_implicit_log)
        begin = count if start is None else start
        return ImplicitRun(_implicit_run_id(), count, begin, tuple(_implicit_log[begin:]))


def _reset_implicit_run() -> None:
    """Forget the implicit run (tests: each test is its own process, as far as lineage goes)."""
    with _lock:
        _implicit_seen.clear()
        _implicit_log.clear()
        _implicit_id.clear()


def current_producer() -> Producer:
    """The provider's producer, or this process's implicit run (argv, code identity)."""
    with _lock:
        provider = _provider
    if provider is not None:
        produced = provider()
        if produced is not None:
            return produced
    code = code_identity()
    return Producer(
        run_id=_implicit_run_id(),
        argv=tuple(sys.argv),
        git_commit=code.git_commit,
        git_dirty=code.git_dirty,
        config_digest=None,
        code_digest=code.code_digest,
    )


def record_used(uri: str) -> None:
    """Add `uri` to the used-input log without telling listeners (emit does both).

    With no provider set, the log is the implicit run's (kept for the whole process).
    """
    with _lock:
        if _provider is not None:
            _used[uri] = None
        elif uri not in _implicit_seen:
            _implicit_seen.add(uri)
            _implicit_log.append(uri)


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
    """Pinned URIs used since the producer provider was last set (the implicit run's if none)."""
    with _lock:
        return tuple(_used) if _provider is not None else tuple(_implicit_log)


def register_remote_resolver(fn: RemoteResolver | None) -> None:
    """Install (or with None remove) the resolver for W&B-form `art://E/P/NAME:VER` URIs."""
    global _remote_resolver
    with _lock:
        _remote_resolver = fn


def get_remote_resolver() -> RemoteResolver | None:
    """The installed W&B-form resolver, if any."""
    with _lock:
        return _remote_resolver
