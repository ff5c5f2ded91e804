"""`hooks.code_identity`: the launcher's variables first, else this process's own checkout."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from kit_artifacts import hooks


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*hooks.CODE_ENV, "PEX"):
        monkeypatch.delenv(name, raising=False)


def _repo(path: Path) -> str:
    path.mkdir()
    subprocess.run(["git", "-C", str(path), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.email=t@t", "-c", "user.name=t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_launcher_variables_win(monkeypatch, tmp_path):
    """A job reads commit, dirty flag and digest from the launcher, not from its own folder."""
    _repo(tmp_path / "job-dir")
    monkeypatch.chdir(tmp_path / "job-dir")
    given = hooks.CodeIdentity("a" * 40, True, "sha256:" + "b" * 64)
    for key, value in given.env().items():
        monkeypatch.setenv(key, value)
    assert hooks.code_identity() == given
    assert hooks.current_producer().code_digest == given.code_digest


def test_started_by_hand_finds_its_own_checkout_and_pex(monkeypatch, tmp_path):
    """Without the variables: git around the working directory, digest of `$PEX`."""
    commit = _repo(tmp_path / "clone")
    monkeypatch.chdir(tmp_path / "clone")
    pex = tmp_path / "stage.pex"
    pex.write_bytes(b"zip")
    monkeypatch.setenv("PEX", str(pex))
    found = hooks.code_identity()
    assert found == hooks.CodeIdentity(commit, False,
                                       f"sha256:{hashlib.sha256(b'zip').hexdigest()}")


@pytest.mark.parametrize(
    ("identity", "env"),
    [
        pytest.param(hooks.CodeIdentity(), {}, id="unknown-sends-nothing"),
        pytest.param(hooks.CodeIdentity("c", False, None),
                     {"NEMOTRON_GIT_COMMIT": "c", "NEMOTRON_GIT_DIRTY": "0"}, id="clean"),
        pytest.param(hooks.CodeIdentity(None, None, "sha256:d"),
                     {"NEMOTRON_CODE_DIGEST": "sha256:d"}, id="digest-only"),
    ],
)
def test_env_round_trips(identity, env, monkeypatch):
    """What a launcher sends is what the job reads back."""
    assert identity.env() == env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir("/")
    assert hooks.code_identity() == identity
