"""Shared by the Slurm-backed tests: the running Slurm that `.ci/services/slurm-up` describes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SERVICES = Path(os.environ.get("KIT_SERVICES_DIR", "/tmp/kit-services"))


def slurm_service() -> dict[str, str]:
    """The KEY=VALUE pairs of `slurm.env`; skips with SERVICE-MISSING (CI refuses) without it."""
    env_file = SERVICES / "slurm.env"
    if not env_file.is_file():
        pytest.skip("SERVICE-MISSING: Slurm is not running (run .ci/services/slurm-up)")
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines()
             if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}
