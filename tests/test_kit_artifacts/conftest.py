"""Shared fixtures: a private NEMOTRON_HOME per test, clean hook state, a real S3 server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import kit_artifacts
from kit_artifacts import _registry, _resolver, hooks


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point NEMOTRON_HOME at a tmp dir and reset process-wide artifact state."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    _registry._CACHE.clear()
    _resolver.clear_pins()
    hooks.set_producer_provider(None)
    hooks.register_remote_resolver(None)
    hooks._reset_implicit_run()
    yield home
    hooks.set_producer_provider(None)
    hooks.register_remote_resolver(None)
    _resolver.clear_pins()
    _registry._CACHE.clear()


@pytest.fixture()
def registry(tmp_path: Path) -> kit_artifacts.ArtifactRegistry:
    """A fresh local registry under tmp_path."""
    return kit_artifacts.ArtifactRegistry(str(tmp_path / "registry"))


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A small artifact directory with two files."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "shard_0.bin").write_bytes(b"a" * 4096)
    (root / "sub" / "shard_1.bin").write_bytes(b"b" * 1000)
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server (moto in server mode) on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
