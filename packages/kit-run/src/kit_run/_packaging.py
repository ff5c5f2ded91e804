"""Hermetic code shipping: a Pants-built PEX, or a git archive that refuses a dirty tree.

`prepare()` stages what travels into the job's local staging dir and returns a
`ShippedCode`: files to copy next to the job, shell lines the batch script runs once before
the tasks start, a command prefix, and what the job record keeps (digest, commit, diff).
"""
from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path
from typing import Any

import attrs

from kit_run.errors import DirtyTreeError, PackagingError

__all__ = ["GitArchivePackager", "PexPackager", "ShippedCode", "sha256_file"]


def sha256_file(path: Path) -> str:
    """Return `sha256:<hex>` of a file (streamed)."""
    with path.open("rb") as handle:
        return f"sha256:{hashlib.file_digest(handle, 'sha256').hexdigest()}"


@attrs.frozen
class ShippedCode:
    """What a packager stages: files (job-dir-relative name -> local path) and how to run."""

    files: dict[str, Path]
    batch_setup: list[str]
    command_prefix: list[str]
    default_workdir: str | None
    env: dict[str, str]
    record: dict[str, Any]


@attrs.frozen
class PexPackager:
    """Ship one PEX file (code and pinned dependencies) and run it inside the job.

    `python` runs the PEX with a given interpreter (e.g. a container's `python3`) instead of
    its shebang; `inherit_path="fallback"` lets it also see that interpreter's site-packages
    (a container's CUDA torch). The profile's `pex_python`/`pex_inherit_path` fill these in.
    """

    path: Path = attrs.field(converter=Path)
    python: str | None = None
    inherit_path: str | None = None

    def prepare(self, staging: Path, remote_dir: str, *, profile_python: str | None = None,
                profile_inherit: bool | None = None) -> ShippedCode:
        """Digest the PEX and name it for shipping (it is copied, not rebuilt)."""
        if not self.path.is_file():
            raise PackagingError(f"PEX file {self.path} does not exist", path=str(self.path),
                                 hint="build it first, e.g. `pants package <target>`")
        if self.inherit_path not in (None, "false", "prefer", "fallback"):
            raise PackagingError(f"inherit_path {self.inherit_path!r} is not one of false, "
                                 "prefer, fallback", path=str(self.path))
        digest = sha256_file(self.path)
        name = f"code/{self.path.name}"
        remote_pex = f"{remote_dir}/{name}"
        python = self.python or profile_python
        inherit = self.inherit_path or ("fallback" if profile_inherit else None)
        env = {"NEMOTRON_CODE_DIGEST": digest, "NEMOTRON_PEX": remote_pex}
        if inherit:
            env["PEX_INHERIT_PATH"] = inherit
        return ShippedCode(
            files={name: self.path},
            batch_setup=[f"chmod +x {shlex.quote(remote_pex)}"],
            command_prefix=[python, remote_pex] if python else [remote_pex],
            default_workdir=None,
            env=env,
            record={"kind": "pex", "file": str(self.path.resolve()), "digest": digest,
                    "python": python, "inherit_path": inherit},
        )


@attrs.frozen
class GitArchivePackager:
    """Ship `git archive` of a repository's committed tree (optionally one `subdir`).

    A tree with uncommitted changes to tracked files is refused unless `allow_dirty`; then
    the working tree's tracked state is shipped (via `git stash create`, which touches
    nothing) and its diff against HEAD is staged and digested in the job record.
    """

    repo: Path = attrs.field(default=Path(), converter=Path)
    ref: str = "HEAD"
    allow_dirty: bool = False
    subdir: str | None = None

    def _git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise PackagingError(
                f"git {' '.join(args)} failed in {self.repo}: {result.stderr.strip()}",
                path=str(self.repo), hint="point GitArchivePackager(repo=...) at a git checkout")
        return result.stdout

    def prepare(self, staging: Path, remote_dir: str, **_: Any) -> ShippedCode:
        """Check the tree, archive it into `staging/code.tar.gz`, record commit and diff."""
        top = Path(self._git("rev-parse", "--show-toplevel").strip())
        commit = self._git("rev-parse", f"{self.ref}^{{commit}}").strip()
        changed = [line[3:] for line in
                   self._git("status", "--porcelain", "--untracked-files=no").splitlines()]
        dirty = bool(changed) and self.ref == "HEAD"
        tree = commit
        record: dict[str, Any] = {"kind": "git", "repo": str(top), "commit": commit,
                                  "dirty": dirty}
        staging.mkdir(parents=True, exist_ok=True)
        if dirty:
            if not self.allow_dirty:
                raise DirtyTreeError(
                    f"{top} has uncommitted changes to {len(changed)} tracked file(s) "
                    f"({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''})",
                    path=str(top), changed=changed)
            tree = self._git("stash", "create").strip() or commit
            diff = subprocess.run(["git", "-C", str(top), "diff", "--binary", "HEAD"],
                                  capture_output=True, check=True).stdout
            diff_path = staging / "code.diff"
            diff_path.write_bytes(diff)
            record["diff_file"] = str(diff_path)
            record["diff_digest"] = sha256_file(diff_path)
        archive = staging / "code.tar.gz"
        treeish = f"{tree}:{self.subdir}" if self.subdir else tree
        result = subprocess.run(["git", "-C", str(top), "archive", "--format=tar.gz",
                                 "-o", str(archive), treeish], capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise PackagingError(f"git archive {treeish} failed: {result.stderr.strip()}",
                                 path=str(top))
        record["digest"] = sha256_file(archive)
        code_dir = f"{remote_dir}/code"
        q = shlex.quote
        return ShippedCode(
            files={"code.tar.gz": archive},
            batch_setup=[f"mkdir -p {q(code_dir)}",
                         f"tar -xzf {q(remote_dir + '/code.tar.gz')} -C {q(code_dir)}"],
            command_prefix=[],
            default_workdir=code_dir,
            env={"NEMOTRON_CODE_DIGEST": record["digest"], "NEMOTRON_GIT_COMMIT": commit},
            record=record,
        )
