"""Code identity: which commit (and whether it was dirty) and which shipped code ran.

One source of truth for every record that names code (launch record, run record, artifact
producer). The launcher finds the identity and hands it to the job in three environment
variables (`CODE_ENV`); whoever records code reads them first, because the job's working
directory (a Slurm job dir, a PEX venv) is not the checkout that launched it. A job started
by hand, without them, finds git from its own checkout and digests its own PEX (`$PEX`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import attrs

__all__ = [
    "CODE_ENV",
    "CodeIdentity",
    "checkout_state",
    "code_identity",
    "file_digest",
]

# Launcher -> job: commit, dirty flag ("1"/"0") and `sha256:<hex>` of the code that ran.
CODE_ENV = ("NEMOTRON_GIT_COMMIT", "NEMOTRON_GIT_DIRTY", "NEMOTRON_CODE_DIGEST")
_GIT_TIMEOUT_S = 10.0


@attrs.frozen
class CodeIdentity:
    """Git commit and dirty flag of the launching checkout, and the digest of the code."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    code_digest: str | None = None

    def env(self) -> dict[str, str]:
        """The environment variables that hand this identity to a job (unknowns left out)."""
        commit_key, dirty_key, digest_key = CODE_ENV
        out = {}
        if self.git_commit:
            out[commit_key] = self.git_commit
            if self.git_dirty is not None:
                out[dirty_key] = "1" if self.git_dirty else "0"
        if self.code_digest:
            out[digest_key] = self.code_digest
        return out


def checkout_state(folder: str) -> tuple[str | None, bool | None]:
    """`(commit, dirty)` of the git checkout holding `folder`; `(None, None)` outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", folder, "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False,
        )
        if head.returncode != 0 or not head.stdout.strip():
            return None, None
        status = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


# Per process: a publish loop must not fork git every time.
_cached_checkout_state = functools.lru_cache(maxsize=16)(checkout_state)


@functools.lru_cache(maxsize=16)
def _cached_digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return f"sha256:{hashlib.file_digest(handle, 'sha256').hexdigest()}"


def file_digest(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file (a PEX, an archive); cached while size and mtime hold."""
    resolved = str(Path(path).resolve())
    stat = os.stat(resolved)  # noqa: PTH116
    return _cached_digest(resolved, stat.st_size, stat.st_mtime_ns)


def _own_folders() -> list[str]:
    """Where a process started by hand looks for its checkout: cwd, then its main script."""
    folders = [os.getcwd()]  # noqa: PTH109
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main:
        folders.append(str(Path(main).resolve().parent))
    return folders


def code_identity() -> CodeIdentity:
    """This process's code identity: `CODE_ENV` from the launcher, else found here.

    Without the variables: git from the working directory's checkout (else the main
    script's), and the digest of the PEX this process runs from (`$PEX`, set by PEX).
    """
    commit_key, dirty_key, digest_key = CODE_ENV
    commit = os.environ.get(commit_key) or None
    digest = os.environ.get(digest_key) or None
    dirty: bool | None = None
    if commit:
        flag = os.environ.get(dirty_key, "").strip().lower()
        dirty = {"1": True, "true": True, "0": False, "false": False}.get(flag)
    else:
        for folder in _own_folders():
            commit, dirty = _cached_checkout_state(folder)
            if commit:
                break
    if digest is None and os.environ.get("PEX"):
        try:
            digest = file_digest(os.environ["PEX"])
        except OSError:
            digest = None
    return CodeIdentity(commit, dirty, digest)
