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
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

__all__ = ["LocalStorage", "Storage", "open_storage"]


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
    def children_with(self, key: str, leaf: str) -> list[str]: ...
    def remove_tree(self, key: str) -> None: ...
    def mtime(self, key: str) -> float | None: ...
    def put_tree(self, source: str, key: str) -> str: ...
    def lock(self, key: str) -> contextlib.AbstractContextManager[None]: ...


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


class LocalStorage:
    """A registry on the local filesystem (or a shared POSIX filesystem)."""

    def __init__(self, root: str) -> None:
        self.url = root
        self.root = os.path.abspath(os.path.expanduser(root))

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

    def children_with(self, key: str, leaf: str) -> list[str]:
        """Names of the children of `key` that contain `leaf` (committed versions)."""
        base = self._abs(key)
        return [n for n in self.list_names(key) if os.path.exists(os.path.join(base, n, leaf))]

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
            top = os.path.abspath(source)

            def skip_own_metadata(directory: str, names: list[str]) -> set[str]:
                # Only the artifact's own metadata.json (rewritten by the kit) stays behind.
                return (
                    {"metadata.json"} & set(names) if os.path.abspath(directory) == top else set()
                )

            shutil.copytree(source, target, ignore=skip_own_metadata)
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


def open_storage(root: str, storage_options: dict[str, Any] | None = None) -> Storage:
    """A `Storage` for a local path, a `file://` URL or any other fsspec URL."""
    if root.startswith("file://"):
        return LocalStorage(root[len("file://") :])
    if "://" in root:
        from kit_artifacts._fsspec_storage import FsspecStorage

        return FsspecStorage(root, storage_options)
    return LocalStorage(root)
