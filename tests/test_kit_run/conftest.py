"""Fixtures of kit-run's tests: a private NEMOTRON_HOME, env.toml writers, the real services."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

SERVICES_DIR = Path(os.environ.get("KIT_SERVICES_DIR", "/tmp/kit-services"))


@pytest.fixture(autouse=True)
def _nemotron_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NEMOTRON_HOME and no inherited env file."""
    home = tmp_path / "nemotron-home"
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ENV_FILE", raising=False)
    return home


@pytest.fixture
def write_env(tmp_path: Path) -> Callable[[str], Path]:
    """Write an env.toml into a fresh directory and return its path."""
    def write(text: str) -> Path:
        path = tmp_path / "proj" / "env.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
    return write


def _read_env_file(name: str, script: str) -> dict[str, str]:
    path = SERVICES_DIR / name
    if not path.is_file():
        pytest.skip(f"SERVICE-MISSING: {path} not found; start it with .ci/services/{script}")
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def slurm_service() -> dict[str, str]:
    """The local Slurm started by .ci/services/slurm-up (skips, SERVICE-MISSING, without)."""
    return _read_env_file("slurm.env", "slurm-up")


@pytest.fixture(scope="session")
def ssh_service() -> dict[str, str]:
    """The local sshd started by .ci/services/sshd-up (skips, SERVICE-MISSING, without)."""
    return _read_env_file("ssh.env", "sshd-up")


@pytest.fixture
def slurm_env_toml(slurm_service: dict[str, str], write_env: Callable[[str], Path],
                   tmp_path: Path) -> Path:
    """An env.toml with a local-tunnel Slurm profile `slurm` (and `ssh` when sshd runs)."""
    account = slurm_service["NEMOTRON_SLURM_ACCOUNT"]
    text = (f'[slurm]\nexecutor = "slurm"\naccount = "{account}"\n'
            f'partition = "{slurm_service["NEMOTRON_SLURM_PARTITION"]}"\ntime = "00:05:00"\n')
    ssh_file = SERVICES_DIR / "ssh.env"
    if ssh_file.is_file():
        ssh = _read_env_file("ssh.env", "sshd-up")
        text += (f'\n[ssh]\nextends = "slurm"\ntunnel = "ssh"\n'
                 f'host = "{ssh["NEMOTRON_SSH_HOST"]}"\n'
                 f'port = {ssh["NEMOTRON_SSH_PORT"]}\nuser = "{ssh["NEMOTRON_SSH_USER"]}"\n'
                 f'identity = "{ssh["NEMOTRON_SSH_KEY"]}"\nssh_timeout = 10\n'
                 f'known_hosts = "{ssh["NEMOTRON_SSH_KNOWN_HOSTS"]}"\n'
                 f'remote_job_dir = "{tmp_path / "remote"}"\n')
    return write_env(text)
