"""The registry's record of implicit runs: their inputs once, and what they published.

Layout, beside the artifact names (a leading `_` is never a valid artifact name):

    {root}/_runs/{run}/inputs/{start:09d}-{end:09d}.json  inputs start..end-1 (a JSON list)
    {root}/_runs/{run}/outputs/{name}@v{N}                 versions the run published
    {root}/{input name}/runs/{run}                         reverse marker: run used a version

A publish writes only the inputs used since the run's previous publish (one chunk) and one
marker per new input *name*, so its cost does not grow with what the process loaded before.
A version's record holds `run_inputs: {run_id, count}`: its inputs are the run's first
`count` (the log only grows, in first-use order, so that prefix is what it had seen).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kit_artifacts import hooks
from kit_artifacts._storage import Storage
from kit_artifacts._uri import ArtURI, parse_art_uri
from kit_artifacts.errors import ArtifactURIError

__all__ = [
    "RUNS_DIR",
    "check_pinned",
    "flushed_count",
    "read_run_inputs",
    "record_implicit_inputs",
    "run_outputs",
    "runs_using",
    "write_run_inputs",
    "write_run_output",
]

RUNS_DIR = "_runs"


def _chunks(storage: Storage, run_id: str) -> list[tuple[int, int, str]]:
    out = []
    for entry in storage.list_names(f"{RUNS_DIR}/{run_id}/inputs"):
        stem = entry.removesuffix(".json")
        start, _, end = stem.partition("-")
        if entry.endswith(".json") and start.isdigit() and end.isdigit():
            out.append((int(start), int(end), f"{RUNS_DIR}/{run_id}/inputs/{entry}"))
    return sorted(out)


def flushed_count(storage: Storage, run_id: str) -> int:
    """How many of the run's inputs the registry already holds (0 for a new run)."""
    return max((end for _, end, _ in _chunks(storage, run_id)), default=0)


def write_run_inputs(storage: Storage, run_id: str, start: int, inputs: Iterable[str]) -> int:
    """Record inputs `start..` of the run, and a reverse marker per new input name."""
    items = list(inputs)
    if not items:
        return start
    end = start + len(items)
    names: dict[str, None] = {}
    for item in items:
        parsed = parse_art_uri(item) if item.startswith("art://") else None
        if isinstance(parsed, ArtURI):
            names[parsed.name] = None
    for name in names:
        storage.write_atomic(f"{name}/runs/{run_id}", b"")
    key = f"{RUNS_DIR}/{run_id}/inputs/{start:09d}-{end:09d}.json"
    storage.write_atomic(key, json.dumps(items, separators=(",", ":")).encode())
    return end


def read_run_inputs(storage: Storage, run_id: str, count: int | None = None) -> tuple[str, ...]:
    """The run's first `count` inputs (all when None), in first-use order."""
    out: list[str] = []
    for start, _end, key in _chunks(storage, run_id):
        if count is not None and start >= count:
            break
        if start != len(out):
            continue  # an overlapping rewrite of a range already read (same content)
        out.extend(str(item) for item in json.loads(storage.read_bytes(key)))
    return tuple(out if count is None else out[:count])


def write_run_output(storage: Storage, run_id: str, name: str, version: int) -> None:
    """Mark `name:vN` as published by the run (for downstream lineage)."""
    storage.write_atomic(f"{RUNS_DIR}/{run_id}/outputs/{name}@v{version}", b"")


def run_outputs(storage: Storage, run_id: str) -> list[tuple[str, int]]:
    """`(name, version)` of every version the run published."""
    out = []
    for marker in storage.list_names(f"{RUNS_DIR}/{run_id}/outputs"):
        name, _, version = marker.partition("@v")
        if version.isdigit():
            out.append((name, int(version)))
    return sorted(out)


def runs_using(storage: Storage, name: str) -> list[str]:
    """Implicit runs that used some version of `name`."""
    return sorted(e for e in storage.list_names(f"{name}/runs") if not e.startswith("."))


def check_pinned(inputs: Iterable[str]) -> None:
    """Refuse an `art://` input without a version number (lineage must name one version)."""
    for item in inputs:
        if item.startswith("art://"):
            parsed = parse_art_uri(item)
            if isinstance(parsed, ArtURI) and parsed.pinned_version is None:
                raise ArtifactURIError(
                    f"input {item} is not pinned", uri=item, hint="record inputs as art://NAME:vN"
                )


def record_implicit_inputs(
    storage: Storage, flushed: dict[str, int], implicit: hooks.ImplicitRun | None
) -> dict[str, str | int] | None:
    """A version record's `run_inputs` pointer; records the run's inputs new since `flushed`.

    `flushed` (run id -> inputs already in this registry) is the registry's memory of it;
    a registry object that has not published for the run yet asks the storage once.
    """
    if implicit is None or not implicit.count:
        return None
    start = flushed.get(implicit.run_id)
    if start is None:
        start = flushed_count(storage, implicit.run_id)
    if start < implicit.count:
        new = hooks.implicit_run(start)
        if new is None:  # an explicit run began meanwhile: its inputs are not ours
            return None
        items = new.new_inputs
        check_pinned(items)
        flushed[implicit.run_id] = write_run_inputs(storage, implicit.run_id, start, items)
    return {"run_id": implicit.run_id, "count": implicit.count}
