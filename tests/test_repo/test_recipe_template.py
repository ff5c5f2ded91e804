"""A second recipe family is one new folder: made from templates/recipe, listed, runnable.

`templates/recipe/new-recipe NAME DEST` renders the template; the rendered BUILD's
`nemotron.recipes` entry point is installed as a wheel would install it (a `.dist-info` folder
on the import path), and `nemotron --help` must list the recipe with nothing else configured
(no NEMOTRON_RECIPES, no env.toml); its stage runs locally end to end.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = next((p for p in Path(__file__).resolve().parents if (p / "packages").is_dir()),
            Path.cwd())
NEW_RECIPE = ROOT / "templates" / "recipe" / "new-recipe"
NEMOTRON = "import sys; from kit_cli.main import main; main(sys.argv[1:])"


def _entry_points(build: Path) -> dict[str, dict[str, str]]:
    """The `entry_points=` of the python_distribution in a rendered BUILD file."""
    for node in ast.walk(ast.parse(build.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "python_distribution":
            for kw in node.keywords:
                if kw.arg == "entry_points":
                    return dict(ast.literal_eval(kw.value))
    raise AssertionError(f"{build} has no python_distribution with entry_points")


@pytest.fixture()
def installed_recipe(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Render `demo2` and 'install' it: sources + a dist-info with its entry points."""
    proc = subprocess.run(["bash", str(NEW_RECIPE), "demo2", str(tmp_path / "recipes")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    dist_info = site / "demo2-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    groups = _entry_points(tmp_path / "recipes" / "demo2" / "BUILD")
    dist_info.joinpath("entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        for group, eps in groups.items()))
    # Absolute: Pants puts relative source roots on sys.path, and the child runs elsewhere.
    path = os.pathsep.join([str(tmp_path / "recipes"), str(site),
                            *(str(Path(p).resolve()) for p in sys.path if p)])
    env = {k: v for k, v in os.environ.items() if k not in {"NEMOTRON_RECIPES", "PYTHONPATH"}}
    env |= {"PYTHONPATH": path, "NEMOTRON_HOME": str(tmp_path / "home"),
            "NEMOTRON_ENV_FILE": str(tmp_path / "no-env.toml")}
    return tmp_path / "recipes" / "demo2", env


def _nemotron(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", NEMOTRON, *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_rendered_recipe_is_a_package_like_every_other(
        installed_recipe: tuple[Path, dict[str, str]]) -> None:
    """The new folder carries what every kit package carries, with the name filled in."""
    folder, _ = installed_recipe
    for name in ("BUILD", "VERSION", "README.md", "CHANGELOG.md", "py.typed", "recipe.py"):
        assert (folder / name).is_file(), name
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if "{{" in p.read_text() or p.suffix == ".tmpl"]


def test_second_recipe_is_listed_and_its_stage_runs(
        installed_recipe: tuple[Path, dict[str, str]]) -> None:
    """Installed by its entry point alone, `nemotron --help` lists it and its stage runs."""
    folder, env = installed_recipe
    listing = _nemotron(env, folder.parent, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "demo2" in listing.stdout and "nano3" not in listing.stdout, listing.stdout
    run = _nemotron(env, folder.parent, "demo2", "hello", "-c", "default", "repeat=2",
                    "greeting=hi")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("[demo2] hi") == 2, run.stdout


@pytest.mark.parametrize("name", [pytest.param("Bad-Name", id="not-a-package-name"),
                                  pytest.param("", id="missing")])
def test_new_recipe_refuses_a_bad_name(name: str, tmp_path: Path) -> None:
    """A name that is no Python package name is a usage error (exit 2), nothing written."""
    proc = subprocess.run(["bash", str(NEW_RECIPE), name, str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "NAME must be a Python package name" in proc.stderr
    assert not list(tmp_path.iterdir())
