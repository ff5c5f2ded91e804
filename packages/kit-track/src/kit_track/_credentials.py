"""Credentials a job needs, found in the environment or netrc, never written anywhere.

kit-cli passes `job_credentials()` to kit-run's submission as secrets (kit-run does not
import kit-track); the values travel only in the job's environment.
"""
from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["job_credentials", "wandb_api_key", "wandb_host"]

_DEFAULT_WANDB_URL = "https://api.wandb.ai"
# Environment variables forwarded to jobs when set: each is a credential a stage may need.
_FORWARDED = (
    "HF_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)


def wandb_host(environ: Mapping[str, str] | None = None) -> str:
    """Host name of the W&B server (`WANDB_BASE_URL`, default api.wandb.ai)."""
    env = os.environ if environ is None else environ
    url = env.get("WANDB_BASE_URL") or _DEFAULT_WANDB_URL
    return urlparse(url).hostname or "api.wandb.ai"


def _netrc_password(host: str, path: Path | None) -> str | None:
    candidates = [path] if path is not None else [Path(os.environ.get("NETRC", "~/.netrc"))]
    for candidate in candidates:
        file = candidate.expanduser()
        if not file.is_file():
            continue
        try:
            entry = netrc.netrc(str(file)).authenticators(host)
        except (netrc.NetrcParseError, OSError):
            return None
        if entry and entry[2]:
            return entry[2]
    return None


def wandb_api_key(
    environ: Mapping[str, str] | None = None, *, netrc_path: Path | None = None
) -> str | None:
    """The W&B API key: `WANDB_API_KEY`, else the netrc entry for the W&B host (wandb login)."""
    env = os.environ if environ is None else environ
    key = env.get("WANDB_API_KEY", "").strip()
    if key:
        return key
    return _netrc_password(wandb_host(env), netrc_path)


def job_credentials(
    environ: Mapping[str, str] | None = None, *, netrc_path: Path | None = None
) -> dict[str, str]:
    """Secrets a submitted job needs: `WANDB_API_KEY` (env or netrc) and forwarded tokens."""
    env = os.environ if environ is None else environ
    creds: dict[str, str] = {}
    key = wandb_api_key(env, netrc_path=netrc_path)
    if key:
        creds["WANDB_API_KEY"] = key
    for name in _FORWARDED:
        value = env.get(name, "").strip()
        if value:
            creds[name] = value
    return creds
