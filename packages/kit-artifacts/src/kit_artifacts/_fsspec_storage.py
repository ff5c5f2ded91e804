"""Registry storage under any fsspec URL (`s3://bucket/prefix`, `memory://...`).

S3 gets a real create-if-absent (`PutObject` with `If-None-Match: *`), which is what makes
version allocation atomic there. Other fsspec backends check-then-write: safe for one writer
per name only. Listings are never served from s3fs's cache: the registry must always see
other writers' objects.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["FsspecStorage"]


class FsspecStorage:
    """A registry under any fsspec URL (`s3://bucket/prefix`, `memory://...`, ...)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url
        self.protocol = url.split("://", 1)[0]
        self.fs = fsspec.filesystem(self.protocol, **(storage_options or {}))
        self.root = url.split("://", 1)[1].rstrip("/")

    def _abs(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def local_path(self, key: str) -> str | None:
        return None

    def full_url(self, key: str) -> str:
        """The fsspec URL of `key` (for artifacts copied into the registry)."""
        return f"{self.protocol}://{self._abs(key)}"

    def read_bytes(self, key: str) -> bytes:
        try:
            data = self.fs.cat_file(self._abs(key))
        except FileNotFoundError:
            raise
        except OSError as exc:
            if "NoSuchKey" in str(exc) or "Not Found" in str(exc):
                raise FileNotFoundError(errno.ENOENT, str(exc), key) from exc
            raise
        return bytes(data)

    def write_atomic(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._abs(key), data)  # one PUT: atomic per object on S3
        self._forget(key)

    def read_pointer(self, key: str) -> str | None:
        try:
            return self.read_bytes(key).decode("utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def write_pointer(self, key: str, value: str) -> None:
        self.write_atomic(key, f"{value}\n".encode())

    def _forget(self, key: str) -> None:
        # s3fs caches listings; a registry must always see other writers' objects.
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(self._abs(key).rsplit("/", 1)[0])

    def _s3_put_if_absent(self, key: str, data: bytes) -> bool:
        bucket, _, obj = self._abs(key).partition("/")
        call = getattr(self.fs, "call_s3", None)
        try:
            if call is not None:  # s3fs >= 2022 (aiobotocore, sync wrapper)
                call("put_object", Bucket=bucket, Key=obj, Body=data, IfNoneMatch="*")
            else:  # s3fs 0.4 (botocore client)
                self.fs.s3.put_object(Bucket=bucket, Key=obj, Body=data, IfNoneMatch="*")
        except FileExistsError:  # newer s3fs translates 412 PreconditionFailed to this
            return False
        except Exception as exc:
            text = f"{type(exc).__name__} {exc} {exc.__cause__!r}"
            if (
                "PreconditionFailed" in text
                or "412" in text
                or "ConditionalRequestConflict" in text
            ):
                return False
            raise
        self._forget(key)
        return True

    def claim(self, candidates: Iterable[str], data: bytes) -> str:
        for key in candidates:
            if self.protocol in ("s3", "s3a"):
                if self._s3_put_if_absent(key, data):
                    return key
                continue
            # Other fsspec backends have no create-if-absent: check then write (documented
            # as safe for a single writer per name only).
            if not self.exists(key):
                self.write_atomic(key, data)
                return key
        raise FileExistsError(errno.EEXIST, "every candidate path exists")

    def exists(self, key: str) -> bool:
        self._forget(key)
        try:
            self.fs.info(self._abs(key))
        except (FileNotFoundError, OSError):
            return False
        return True

    def list_names(self, key: str) -> list[str]:
        path = self._abs(key)
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)
        try:
            entries = self.fs.ls(path, detail=False)
        except (FileNotFoundError, OSError):
            return []
        return sorted({str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries} - {""})

    def children_with(self, key: str, leaf: str) -> list[str]:
        """Children of `key` containing `leaf`, from ONE recursive listing (not a HEAD each)."""
        path = self._abs(key)
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)
        try:
            found = self.fs.find(path)
        except (FileNotFoundError, OSError):
            return []
        prefix = path.rstrip("/") + "/"
        names = set()
        for item in found:
            rel = str(item)[len(prefix) :] if str(item).startswith(prefix) else ""
            child, _, rest = rel.partition("/")
            if child and rest == leaf:
                names.add(child)
        return sorted(names)

    def remove_tree(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._abs(key), recursive=True)
        self._forget(key)

    def mtime(self, key: str) -> float | None:
        try:
            info = self.fs.info(self._abs(key))
        except (FileNotFoundError, OSError):
            return None
        stamp = info.get("LastModified") or info.get("mtime") or info.get("created")
        if stamp is None:
            return None
        if isinstance(stamp, int | float):
            return float(stamp)
        timestamp = getattr(stamp, "timestamp", None)
        return float(timestamp()) if callable(timestamp) else None

    def put_tree(self, source: str, key: str) -> str:
        top = Path(source)
        if top.is_dir():
            for full in sorted(p for p in top.rglob("*") if p.is_file()):
                if full.parent == top and full.name == "metadata.json":
                    continue  # the kit rewrites it; it is not part of the data
                self.fs.put_file(str(full), self._abs(f"{key}/{full.relative_to(top).as_posix()}"))
        else:
            self.fs.put_file(source, self._abs(key))
        return self.full_url(key)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        # Object stores have no locks; alias writes are last-writer-wins and `latest` is
        # only a lower bound that readers probe forward from (see the registry).
        yield
