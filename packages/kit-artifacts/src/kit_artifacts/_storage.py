"""Where the registry keeps its small files: the local disk, any fsspec URL, or memory (fake).

The registry needs only a handful of primitives, each atomic on its own:

- `write_atomic`: replace a small file so that a reader sees the old or the new bytes, never a
  mix (local: temp file + `os.replace`; S3: a PUT is atomic per object).
- `claim`: create the FIRST of several candidate paths that does not exist yet, with complete
  content, in one step (local: `os.link` of a finished temp file, which fails if the target
  exists; S3: `PutObject` with `If-None-Match: *`). This is how a version number is
  allocated and committed at once, so a crash never leaves a visible partial version.
- `write_pointer` / `read_pointer`: a tiny value (an alias's version number) replaced
  atomically. Locally this is a symlink whose target is the value, renamed into place: one
  `readlink` to read, and no data flush (ext4 flushes a regular file's data when it is renamed
  over another one, which made alias updates cost milliseconds).
- `lock`: a short mutual exclusion for alias updates (local: `fcntl.flock`; S3 has none, so
  there the registry relies on `latest` being a lower bound that readers probe forward from).

Paths are registry-relative keys joined with `/`; names are validated before they get here.
"""

# String paths on purpose: these hot paths use os-level atomic primitives (os.link, os.replace,
# os.open) and also carry fsspec URLs, which pathlib would mangle (s3:// -> s3:/).
# ruff: noqa: PTH100, PTH103, PTH105, PTH108, PTH110, PTH111, PTH112, PTH113, PTH114, PTH115, PTH116, PTH118, PTH119, PTH120, PTH202
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

__all__ = [
    "FsspecStorage",
    "LocalStorage",
    "MemoryStorage",
    "Storage",
    "open_storage",
]


class Storage(Protocol):
    """The primitives the registry is built on (see the module docstring)."""

    url: str  # the root as the user gave it (for messages)

    def local_path(self, key: str) -> str | None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_atomic(self, key: str, data: bytes) -> None: ...
    def read_pointer(self, key: str) -> str | None: ...
    def write_pointer(self, key: str, value: str) -> None: ...
    def claim(self, candidates: Iterable[str], data: bytes) -> str: ...
    def exists(self, key: str) -> bool: ...
    def list_names(self, key: str) -> list[str]: ...
    def remove_tree(self, key: str) -> None: ...
    def mtime(self, key: str) -> float | None: ...
    def put_tree(self, source: str, key: str) -> str: ...
    def lock(self, key: str) -> contextlib.AbstractContextManager[None]: ...


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


class LocalStorage:
    """A registry on the local filesystem (or a shared POSIX filesystem)."""

    def __init__(self, root: str, *, fsync: bool = False) -> None:
        self.url = root
        self.root = os.path.abspath(os.path.expanduser(root))
        self.fsync = fsync  # survive power loss, not only process crashes (slower)

    def _abs(self, key: str) -> str:
        return os.path.join(self.root, key) if key else self.root

    def local_path(self, key: str) -> str | None:
        return self._abs(key)

    def read_bytes(self, key: str) -> bytes:
        with open(self._abs(key), "rb") as fh:
            return fh.read()

    def _write_temp(self, directory: str, data: bytes) -> str:
        tmp = os.path.join(directory, f".tmp-{_token()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def write_atomic(self, key: str, data: bytes) -> None:
        target = self._abs(key)
        tmp = self._write_temp(os.path.dirname(target), data)
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read_pointer(self, key: str) -> str | None:
        path = self._abs(key)
        try:
            return os.readlink(path)
        except FileNotFoundError:
            return None
        except OSError:  # a regular file (written by hand or an older layout)
            try:
                with open(path, encoding="utf-8") as fh:
                    return fh.read().strip()
            except OSError:
                return None

    def write_pointer(self, key: str, value: str) -> None:
        target = self._abs(key)
        tmp = f"{os.path.dirname(target)}/.tmp-{_token()}"
        try:
            os.symlink(value, tmp)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(value, tmp)
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def claim(self, candidates: Iterable[str], data: bytes) -> str:
        staging = os.path.join(self.root, ".staging")
        tmp = self._write_temp(staging, data)
        try:
            for key in candidates:
                target = self._abs(key)
                try:
                    os.link(tmp, target)
                except FileNotFoundError:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    try:
                        os.link(tmp, target)
                    except FileExistsError:
                        continue
                except FileExistsError:
                    continue
                return key
            raise FileExistsError(errno.EEXIST, "every candidate path exists")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def exists(self, key: str) -> bool:
        return os.path.exists(self._abs(key))

    def list_names(self, key: str) -> list[str]:
        try:
            return os.listdir(self._abs(key))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove_tree(self, key: str) -> None:
        target = self._abs(key)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)

    def mtime(self, key: str) -> float | None:
        try:
            return os.stat(self._abs(key)).st_mtime
        except OSError:
            return None

    def put_tree(self, source: str, key: str) -> str:
        target = self._abs(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("metadata.json"))
        else:
            shutil.copy2(source, target)
        return target

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        path = self._abs(key)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if we are killed
            yield
        finally:
            os.close(fd)


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
        if os.path.isdir(source):
            for dirpath, _dirs, files in os.walk(source):
                for fname in files:
                    if dirpath == source and fname == "metadata.json":
                        continue
                    full = os.path.join(dirpath, fname)
                    rel = os.path.relpath(full, source).replace(os.sep, "/")
                    self.fs.put_file(full, self._abs(f"{key}/{rel}"))
        else:
            self.fs.put_file(source, self._abs(key))
        return self.full_url(key)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        # Object stores have no locks; alias writes are last-writer-wins and `latest` is
        # only a lower bound that readers probe forward from (see the registry).
        yield


class MemoryStorage:
    """In-process fake of `Storage` for unit tests of the registry's own logic."""

    def __init__(self, url: str = "mem://registry") -> None:
        self.url = url
        self.files: dict[str, bytes] = {}
        self.mtimes: dict[str, float] = {}
        self._mutex = threading.RLock()
        self._locks: dict[str, threading.Lock] = {}

    def local_path(self, key: str) -> str | None:
        return None

    def read_bytes(self, key: str) -> bytes:
        with self._mutex:
            if key not in self.files:
                raise FileNotFoundError(errno.ENOENT, "no such key", key)
            return self.files[key]

    def write_atomic(self, key: str, data: bytes) -> None:
        with self._mutex:
            self.files[key] = bytes(data)
            self.mtimes[key] = time.time()

    def read_pointer(self, key: str) -> str | None:
        with self._mutex:
            data = self.files.get(key)
        return None if data is None else data.decode("utf-8").strip()

    def write_pointer(self, key: str, value: str) -> None:
        self.write_atomic(key, f"{value}\n".encode())

    def claim(self, candidates: Iterable[str], data: bytes) -> str:
        with self._mutex:
            for key in candidates:
                if key not in self.files:
                    self.write_atomic(key, data)
                    return key
        raise FileExistsError(errno.EEXIST, "every candidate path exists")

    def exists(self, key: str) -> bool:
        with self._mutex:
            prefix = key.rstrip("/") + "/"
            return key in self.files or any(k.startswith(prefix) for k in self.files)

    def list_names(self, key: str) -> list[str]:
        prefix = key.rstrip("/") + "/" if key else ""
        with self._mutex:
            return sorted(
                {k[len(prefix) :].split("/", 1)[0] for k in self.files if k.startswith(prefix)}
            )

    def remove_tree(self, key: str) -> None:
        prefix = key.rstrip("/") + "/"
        with self._mutex:
            for k in [k for k in self.files if k == key or k.startswith(prefix)]:
                del self.files[k]
                self.mtimes.pop(k, None)

    def mtime(self, key: str) -> float | None:
        with self._mutex:
            return self.mtimes.get(key)

    def put_tree(self, source: str, key: str) -> str:
        if os.path.isdir(source):
            for dirpath, _dirs, files in os.walk(source):
                for fname in files:
                    full = os.path.join(dirpath, fname)
                    rel = os.path.relpath(full, source).replace(os.sep, "/")
                    with open(full, "rb") as fh:
                        self.write_atomic(f"{key}/{rel}", fh.read())
        else:
            with open(source, "rb") as fh:
                self.write_atomic(key, fh.read())
        return f"{self.url}/{key}"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._mutex:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


def open_storage(root: str, storage_options: dict[str, Any] | None = None) -> Storage:
    """A `Storage` for a local path, a `file://` URL or any other fsspec URL."""
    if root.startswith("file://"):
        return LocalStorage(root[len("file://") :])
    if "://" in root:
        return FsspecStorage(root, storage_options)
    return LocalStorage(root)
