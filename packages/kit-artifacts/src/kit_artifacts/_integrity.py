"""Per-file integrity manifests: relative path, size and a fast content hash.

Hash: XXH3-128 (`xxhash.xxh3_128`). The manifest guards against accidental change (a shard
rewritten, truncated or swapped), not against an attacker, so a non-cryptographic hash is the
right trade: XXH3 runs at memory bandwidth (>10 GB/s per core in C), several times faster than
BLAKE3 without SIMD threads and 20x faster than SHA-256, and 128 bits make an accidental
collision across any realistic number of files negligible. Files are hashed in a thread pool
(reads and page faults release the GIL; XXH3 itself runs at memory speed).

Modes: `full` hashes every byte; `sampled` (for multi-TB checkpoints) hashes the size plus three
1 MiB windows (head, middle, tail) of each file, so publishing costs O(files) not O(bytes);
`none` records sizes only. `verify` recomputes with the mode that was recorded.
"""

# String paths on purpose: these hot paths use os-level atomic primitives (os.link, os.replace,
# os.open) and also carry fsspec URLs, which pathlib would mangle (s3:// -> s3:/).
# ruff: noqa: PTH100, PTH103, PTH105, PTH108, PTH110, PTH111, PTH112, PTH113, PTH114, PTH116, PTH118, PTH119, PTH120, PTH202
from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import attrs

__all__ = [
    "ALGORITHM",
    "FileEntry",
    "IGNORED_NAMES",
    "Manifest",
    "VerifyReport",
    "compare",
    "compute_manifest",
    "hash_file",
    "list_files",
]

ALGORITHM = "xxh3_128"
HashMode = Literal["full", "sampled", "none"]
_CHUNK = 1 << 20
_MMAP_MIN = 4 << 20
_WINDOW = 1 << 20
# Files the kit itself rewrites next to the data: never part of the data's identity.
IGNORED_NAMES = frozenset({"metadata.json"})


@attrs.frozen
class FileEntry:
    """One file of an artifact: path relative to the artifact root, size, hex digest."""

    path: str
    size: int
    digest: str | None


@attrs.frozen
class Manifest:
    """Every file of an artifact at publish time."""

    algorithm: str
    mode: str
    root: str
    files: tuple[FileEntry, ...]

    @property
    def total_bytes(self) -> int:
        """Sum of all file sizes."""
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        """Compact JSON form: files as `[path, size, digest]` triples."""
        return {
            "algorithm": self.algorithm,
            "mode": self.mode,
            "root": self.root,
            "files": [[f.path, f.size, f.digest] for f in self.files],
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Inverse of `to_json`; raises ValueError/KeyError/TypeError on a malformed object."""
        files = tuple(
            FileEntry(str(p), int(s), None if d is None else str(d)) for p, s, d in data["files"]
        )
        return cls(str(data["algorithm"]), str(data["mode"]), str(data["root"]), files)


@attrs.frozen
class VerifyReport:
    """What differs between an artifact's files and its manifest."""

    uri: str
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is missing, changed or extra."""
        return not (self.missing or self.changed or self.extra)

    def raise_for_problems(self) -> None:
        """Raise `IntegrityError` listing what differs, if anything does."""
        if self.ok:
            return
        from kit_artifacts.errors import IntegrityError

        parts = [
            f"{label} {', '.join(files[:3])}{' ...' if len(files) > 3 else ''} ({len(files)})"
            for label, files in (
                ("missing", self.missing),
                ("changed", self.changed),
                ("extra", self.extra),
            )
            if files
        ]
        raise IntegrityError(
            f"{self.uri} does not match its manifest: {'; '.join(parts)}",
            ref=self.uri,
            missing=self.missing,
            changed=self.changed,
            extra=self.extra,
            hint="restore the files, or publish the current data as a new version",
        )


def list_files(root: str) -> Iterator[tuple[str, str]]:
    """`(relative, absolute)` for every regular file under `root` (or `root` itself)."""
    if os.path.isfile(root):
        yield os.path.basename(root), root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            if fname in IGNORED_NAMES and dirpath == root:
                continue
            if fname.startswith((".metadata.json.", ".tmp-")):
                continue  # our own in-flight temp files
            full = os.path.join(dirpath, fname)
            if os.path.isfile(full):
                yield os.path.relpath(full, root).replace(os.sep, "/"), full


def hash_file(path: str, mode: HashMode = "full") -> tuple[int, str | None]:
    """`(size, hexdigest)` of one file in the given mode."""
    import xxhash

    size = os.path.getsize(path)
    if mode == "none":
        return size, None
    hasher = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as fh:
        if mode == "sampled" and size > 3 * _WINDOW:
            hasher.update(size.to_bytes(8, "little"))
            for offset in (0, size // 2 - _WINDOW // 2, size - _WINDOW):
                fh.seek(offset)
                hasher.update(fh.read(_WINDOW))
        elif size >= _MMAP_MIN:
            try:
                # Hashing straight from the page cache (no copy) is ~1.5x faster than reads.
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    hasher.update(mapped)
            except (OSError, ValueError):  # filesystems without mmap support
                hasher.reset()
                fh.seek(0)
                _update_by_reads(hasher, fh)
        else:
            _update_by_reads(hasher, fh)
    return size, hasher.hexdigest()


def _update_by_reads(hasher: Any, fh: Any) -> None:
    # A 1 MiB buffer stays in L2 cache: several times faster than an 8 MiB one.
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while True:
        n = fh.readinto(buf)
        if not n:
            break
        hasher.update(view[:n])


def _workers(requested: int | None) -> int:
    return requested or min(32, (os.cpu_count() or 1) * 2)


def compute_manifest(root: str, mode: HashMode = "full", *, workers: int | None = None) -> Manifest:
    """Hash every file under `root` in parallel threads."""
    listed = list(list_files(root))
    with ThreadPoolExecutor(max_workers=_workers(workers)) as pool:
        results = list(pool.map(lambda item: hash_file(item[1], mode), listed))
    entries = tuple(
        FileEntry(rel, size, digest)
        for (rel, _), (size, digest) in zip(listed, results, strict=True)
    )
    return Manifest(ALGORITHM, mode, root, entries)


def compare(uri: str, manifest: Manifest, root: str, *, workers: int | None = None) -> VerifyReport:
    """Re-hash `root` and list the files missing, changed or extra against `manifest`."""
    present = dict(list_files(root)) if os.path.exists(root) else {}
    expected = {f.path: f for f in manifest.files}
    missing = sorted(p for p in expected if p not in present)
    extra = sorted(p for p in present if p not in expected)
    common = sorted(p for p in expected if p in present)
    mode: HashMode = manifest.mode if manifest.mode in ("full", "sampled", "none") else "full"  # type: ignore[assignment]

    def check(rel: str) -> bool:
        want = expected[rel]
        try:
            if os.path.getsize(present[rel]) != want.size:
                return False
            _size, digest = hash_file(present[rel], mode)
        except OSError:
            return False
        return digest == want.digest

    with ThreadPoolExecutor(max_workers=_workers(workers)) as pool:
        same = list(pool.map(check, common))
    changed = [rel for rel, ok in zip(common, same, strict=True) if not ok]
    return VerifyReport(uri, tuple(missing), tuple(changed), tuple(extra), len(common))
