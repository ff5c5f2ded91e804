"""`MemoryStorage`: the in-library fake of the registry's `Storage`, for unit tests."""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["MemoryStorage"]


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

    def children_with(self, key: str, leaf: str) -> list[str]:
        prefix = key.rstrip("/") + "/"
        with self._mutex:
            return sorted(
                {
                    k[len(prefix) :].split("/", 1)[0]
                    for k in self.files
                    if k.startswith(prefix) and k[len(prefix) :].split("/", 1)[-1] == leaf
                }
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
        top = Path(source)
        if top.is_dir():
            for full in sorted(p for p in top.rglob("*") if p.is_file()):
                if full.parent == top and full.name == "metadata.json":
                    continue
                self.write_atomic(f"{key}/{full.relative_to(top).as_posix()}", full.read_bytes())
        else:
            self.write_atomic(key, top.read_bytes())
        return f"{self.url}/{key}"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._mutex:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield
