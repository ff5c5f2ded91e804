"""Garbage collection of unreferenced versions (dry run first).

Kept: every alias target (`latest` included), the newest `keep_last` versions of each name,
and, transitively, every registry input of a kept version. Everything else is removable.
Removing a version deletes its record first (so it vanishes atomically), then its directory,
manifest and any data copied INTO the registry; zero-copy data outside the root is never
touched. Temp files of crashed publishers older than `min_temp_age_s` are removed too.
"""

from __future__ import annotations

import time

import attrs

from kit_artifacts._records import VersionRecord
from kit_artifacts._registry import ArtifactRegistry, get_registry
from kit_artifacts._uri import ArtURI, parse_art_uri

__all__ = [
    "GcReport",
    "gc",
]


@attrs.frozen
class GcReport:
    """What gc removed (or, in a dry run, would remove)."""

    dry_run: bool
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    stale_temp_files: tuple[str, ...]


def gc(
    dry_run: bool = True,
    *,
    keep_last: int = 1,
    registry: ArtifactRegistry | None = None,
    min_temp_age_s: float = 3600.0,
) -> GcReport:
    """Remove versions nothing references; by default only report them."""
    reg = registry if registry is not None else get_registry()
    records: dict[str, VersionRecord] = {}
    roots: set[str] = set()
    for name in reg.names():
        versions = reg.versions(name)
        for number in versions:
            record = reg._read_full(name, number)
            if record is not None:
                records[record.uri] = record
        roots.update(f"art://{name}:v{n}" for n in versions[-keep_last:] if keep_last > 0)
        roots.update(f"art://{name}:v{n}" for n in reg.aliases(name).values())
    kept: set[str] = set()
    stack = [r for r in roots if r in records]
    while stack:
        uri = stack.pop()
        if uri in kept:
            continue
        kept.add(uri)
        for item in records[uri].inputs:
            parsed = parse_art_uri(item) if item.startswith("art://") else None
            if isinstance(parsed, ArtURI) and str(parsed) in records:
                stack.append(str(parsed))
    removable = sorted(set(records) - kept)
    if not dry_run:
        for uri in removable:
            record = records[uri]
            base = f"{record.name}/v{record.version}"
            reg.storage.remove_tree(f"{base}/version.json")  # invisible from here on
            reg.storage.remove_tree(base)
            if record.manifest:
                reg.storage.remove_tree(record.manifest)
            if record.copied and record.manifest:
                token = record.manifest.rsplit("/", 1)[-1].removesuffix(".json")
                reg.storage.remove_tree(f"{record.name}/blobs/{token}")
    stale = []
    now = time.time()
    for entry in reg.storage.list_names(".staging"):
        key = f".staging/{entry}"
        stamp = reg.storage.mtime(key)
        if stamp is not None and now - stamp > min_temp_age_s:
            stale.append(key)
            if not dry_run:
                reg.storage.remove_tree(key)
    return GcReport(dry_run, tuple(removable), tuple(sorted(kept)), tuple(stale))
