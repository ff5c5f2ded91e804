"""Launch records: what the CLI knows about each run it started, for `runs` and `rerun`.

Layout: `$NEMOTRON_HOME/launches/<run_id>/` holds `launch.json` (this record),
`config.yaml` (the pinned config the stage received) and kit-config's provenance files.
It sits beside kit-track's `$NEMOTRON_HOME/runs/<run_id>/`, which the stage itself writes.

Code identity is found here, in the launcher, and handed to the stage or job in the
environment (`kit_artifacts.hooks.CODE_ENV`): the job's working directory (a PEX venv, a
Slurm job dir) is not the checkout that launched it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import attrs

from kit_config import atomic_write_json, home_dir

__all__ = [
    "LaunchRecord",
    "code_digest",
    "code_version",
    "launch_env",
    "list_launches",
    "load_launch",
    "save_launch",
]


def code_version(module_file: str | None) -> tuple[str | None, bool | None]:
    """`(commit, dirty)` of the checkout that launches: where it comes from, in order.

    1. `NEMOTRON_GIT_COMMIT`/`_DIRTY` given to this launcher (a job that launches stages);
    2. the git checkout holding `module_file` (the stage's code, in a development checkout);
    3. the checkout around the working directory: under `pants run` the module is inside
       a PEX venv, but the command runs from the repository.
    `(None, None)` when none is in git.
    """
    from kit_artifacts import hooks

    given = hooks.code_identity() if os.environ.get(hooks.CODE_ENV[0]) else None
    if given is not None:
        return given.git_commit, given.git_dirty
    folders = [str(Path(module_file).resolve().parent)] if module_file else []
    for folder in [*folders, str(Path.cwd())]:
        commit, dirty = hooks.checkout_state(folder)
        if commit:
            return commit, dirty
    return None, None


# First-party packages every stage process runs besides the stage's own package.
_KIT_PACKAGES = ("kit_artifacts", "kit_config", "kit_track")


def _source_digest(module: str) -> str | None:
    """`sha256:<hex>` over the `.py` files (path and bytes) of the stage's top package and
    the kit packages it runs: the identity of code run from a source tree, not a PEX."""
    digest = hashlib.sha256()
    found = False
    for top in sorted({module.split(".", 1)[0], *_KIT_PACKAGES}):
        spec = importlib.util.find_spec(top)
        for location in (spec.submodule_search_locations or []) if spec else []:
            base = Path(location)
            for path in sorted(base.rglob("*.py")):
                found = True
                digest.update(f"{top}/{path.relative_to(base).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()}" if found else None


def code_digest(module: str, pex: Path | None, *, local: bool) -> tuple[str | None, str | None]:
    """`(digest, source)` of the code a stage runs: its job PEX; else, for a local run, the
    PEX this launcher runs from (`pants run`: the stage subprocess uses its venv); else the
    source files of the stage's package and the kit packages.

    `source` says what was digested (`pex:PATH` or `source:PACKAGES`).
    """
    from kit_artifacts import hooks

    given = os.environ.get(hooks.CODE_ENV[2])
    if given:
        return given, "given"
    launcher_pex = os.environ.get("PEX") if local else None
    for candidate in (pex, Path(launcher_pex) if launcher_pex else None):
        if candidate is not None and candidate.is_file():
            return hooks.file_digest(candidate), f"pex:{candidate.resolve()}"
    if pex is not None:
        return None, f"pex:{pex} (not built yet)"
    tops = sorted({module.split(".", 1)[0], *_KIT_PACKAGES})
    return _source_digest(module), f"source:{','.join(tops)}"


def launch_env(record: LaunchRecord) -> dict[str, str]:
    """The environment that hands a launch's code identity to its stage or job."""
    from kit_artifacts import hooks

    return hooks.CodeIdentity(record.git_commit, record.git_dirty, record.code_digest).env()


@attrs.define
class LaunchRecord:
    """Everything needed to show, audit and rerun one stage launch."""

    run_id: str
    recipe: str
    stage: str
    module: str
    argv: list[str]
    overrides: list[str]
    config_source: str | None
    profile: str | None
    mode: str  # "local", "attached" or "batch"
    pins: dict[str, str]
    inputs: list[dict[str, str]]
    git_commit: str | None
    git_dirty: bool | None
    created_at: str
    status: str = "created"
    exit_code: int | None = None
    job_id: str | None = None
    rerun_of: str | None = None
    scheduler_id: str | None = None
    after: list[str] = attrs.field(factory=list)
    deferred: list[str] = attrs.field(factory=list)
    code_digest: str | None = None  # `sha256:<hex>` of the code that ran (see code_digest)
    code_source: str | None = None  # what was digested: `pex:PATH` or `source:PACKAGES`

    @property
    def directory(self) -> Path:
        """The record's folder under `$NEMOTRON_HOME/launches`."""
        return home_dir("launches") / self.run_id


def save_launch(record: LaunchRecord) -> Path:
    """Write (or update) `launch.json` atomically; return its folder."""
    path = record.directory / "launch.json"
    atomic_write_json(path, attrs.asdict(record), sort_keys=True)
    return record.directory


def load_launch(run_id: str) -> LaunchRecord:
    """The launch record of `run_id`; `RunRecordNotFoundError` when there is none."""
    from kit_cli.errors import RunRecordNotFoundError

    path = home_dir("launches") / run_id / "launch.json"
    if "/" in run_id or run_id.startswith(".") or not path.is_file():
        raise RunRecordNotFoundError(run_id, str(home_dir("launches")))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    known = {a.name for a in attrs.fields(LaunchRecord)}
    return LaunchRecord(**{k: v for k, v in data.items() if k in known})


def list_launches() -> list[LaunchRecord]:
    """Every readable launch record, newest first."""
    root = home_dir("launches")
    if not root.is_dir():
        return []
    records = []
    for folder in sorted(root.iterdir(), reverse=True):
        if (folder / "launch.json").is_file():
            try:
                records.append(load_launch(folder.name))
            except (ValueError, TypeError):
                continue  # a foreign or corrupt file must not break the listing
    return records
