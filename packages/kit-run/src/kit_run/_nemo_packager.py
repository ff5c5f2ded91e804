"""A NeMo-Run `Packager` that places kit-run's staged job files into the task's job dir.

NeMo-Run calls `package(path, job_dir, name)` while it prepares a task, after it created
the job dir and before it ships that dir (Docker mount, SkyPilot file mount, Lepton/DGX
Cloud storage), so this is where the launcher, driver, code and secrets file join it.
This module imports nemo_run at import time: only `_nemorun` imports it, inside functions.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nemo_run as run

__all__ = ["KitFilesPackager"]


@dataclass(kw_only=True)
class KitFilesPackager(run.Packager):  # type: ignore[misc]
    """Copy `files` (job-dir-relative name -> local path) into `JOB_DIR/kit`; no tarball."""

    files: dict[str, str] = field(default_factory=dict)
    private: list[str] = field(default_factory=list)  # names to keep 0600 (secrets file)

    def package(self, path: Path, job_dir: str, name: str) -> str:
        """Copy the files; return "" (nothing for NeMo-Run to extract)."""
        kit_dir = Path(job_dir) / "kit"
        for rel, src in self.files.items():
            target = kit_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            if rel in self.private:
                target.chmod(0o600)
        return ""
