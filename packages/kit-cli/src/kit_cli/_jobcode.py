"""The code a remote job runs: the stage's PEX (a file, or a Pants address built on demand).

`Stage.job_target` is either a PEX path or a Pants address (`recipes/nano3:pretrain-job`).
An address is built with `./pants package ADDRESS` from the Pants build root (the nearest
folder up from the cwd holding `pants.toml`) and found at Pants' fixed output path
`dist/<spec path, / -> .>/<name>.pex`. `NEMOTRON_JOB_PEX=path` overrides both, so a CI
step (or a user) that already built the PEX is never made to wait for Pants.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kit_cli.recipe import Stage

__all__ = [
    "PANTS_TIMEOUT_S",
    "build_root",
    "is_pants_address",
    "job_pex",
    "pex_for_address",
    "planned_job_pex",
]

PANTS_TIMEOUT_S = 1800.0


def is_pants_address(target: str) -> bool:
    """Whether `target` reads as a Pants address (`path/to:name`), not a file path."""
    return ":" in target and not target.endswith(".pex") and "://" not in target


def build_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: cwd) that holds `pants.toml`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pants.toml").is_file():
            return folder
    return None


def pex_for_address(address: str) -> Path:
    """Pants' output path, relative to the build root, for a `pex_binary` address.

    `recipes/nano3:pretrain-job` -> `dist/recipes.nano3/pretrain-job.pex`; a root-level
    `//:tool` -> `dist/tool.pex`.
    """
    spec, _, name = address.removeprefix("//").partition(":")
    if not name:
        name = spec.rsplit("/", 1)[-1]
    folder = spec.strip("/").replace("/", ".")
    return Path("dist", folder, f"{name}.pex") if folder else Path("dist", f"{name}.pex")


def planned_job_pex(stage: Stage) -> tuple[Path | None, str | None]:
    """Where the job PEX is or would be, without building anything (for dry runs).

    Returns `(path, None)` when the PEX is known, `(path, address)` when building `address`
    would produce it, and `(None, None)` when the stage ships no PEX.
    """
    override = os.environ.get("NEMOTRON_JOB_PEX")
    if override:
        return Path(override).expanduser(), None
    target = stage.job_target
    if not target:
        return None, None
    if not is_pants_address(target):
        return Path(target).expanduser(), None
    root = build_root()
    relative = pex_for_address(target)
    return (root / relative if root else relative), target


def job_pex(stage: Stage) -> Path | None:
    """The PEX shipped with a stage's jobs; None when the stage has no `job_target`.

    Order: `NEMOTRON_JOB_PEX`, then a PEX path, then a Pants address built with
    `./pants package` (`PANTS_CONCURRENT=True`, so a running pantsd of an IDE or another
    shell does not block it). Raises `JobCodeError` when no PEX results.
    """
    from kit_cli.errors import JobCodeError

    path, target = planned_job_pex(stage)
    if path is None:
        return None
    if target is None:  # a PEX file: NEMOTRON_JOB_PEX, else the stage's job_target
        if path.is_file():
            return path.resolve()
        override = os.environ.get("NEMOTRON_JOB_PEX")
        if override:
            raise JobCodeError(stage.name, override, "NEMOTRON_JOB_PEX names no file",
                               hint="unset NEMOTRON_JOB_PEX or point it at a built PEX")
        raise JobCodeError(stage.name, str(stage.job_target), "the PEX file does not exist")
    root = build_root()
    if root is None or not (root / "pants").is_file():
        raise JobCodeError(
            stage.name, target,
            f"no Pants build root (a folder with pants.toml and ./pants) above {Path.cwd()}",
            hint="run from inside the repository, or set NEMOTRON_JOB_PEX to a built PEX",
        )
    _run_pants_package(stage, target, root)
    path = root / pex_for_address(target)
    if not path.is_file():
        raise JobCodeError(stage.name, target, f"`./pants package` did not write {path}",
                           hint="check that the address names a pex_binary target")
    return path


def _run_pants_package(stage: Stage, address: str, root: Path) -> None:
    from kit_cli.errors import JobCodeError

    env = {**os.environ, "PANTS_CONCURRENT": "True"}
    try:
        done = subprocess.run(
            [str(root / "pants"), "package", address], cwd=root, env=env, check=False,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PANTS_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JobCodeError(stage.name, address, f"./pants package failed to run: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise JobCodeError(stage.name, address,
                           f"./pants package exited {done.returncode}: {last[0]}")
