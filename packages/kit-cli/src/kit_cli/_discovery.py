"""Find the recipes that register with `nemotron`, keeping the broken ones visible.

Three sources, in order: the `nemotron.recipes` entry-point group, `[cli] recipes` in
env.toml, and `NEMOTRON_RECIPES` (comma separated `module:attr`). A registration that fails
to import, or does not name a `Recipe`, becomes a `RecipeEntry` with `error` set: the app
shows it as broken with the reason instead of dropping it (the earlier kit's silent hole).
"""
from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kit_cli.recipe import Recipe

__all__ = [
    "ENTRY_POINT_GROUP",
    "RecipeEntry",
    "discover_recipes",
    "env_file_path",
    "scan_entry_points",
]

ENTRY_POINT_GROUP = "nemotron.recipes"


@dataclass(frozen=True)
class RecipeEntry:
    """One registration: the loaded recipe, or the reason it failed to load."""

    name: str
    spec: str
    source: str
    recipe: Recipe | None = None
    error: str | None = None

    @property
    def broken(self) -> bool:
        """Whether the registration failed to load."""
        return self.recipe is None


def env_file_path() -> Path | None:
    """env.toml as kit-config finds it, or None when that file does not exist.

    Read directly with tomllib (not through kit-run's profile validation) so that a bad
    profile never hides the recipes from `--help`.
    """
    from kit_config import find_env_file

    path = find_env_file()
    return path if path is not None and path.is_file() else None


def _env_specs() -> tuple[list[str], str | None]:
    path = env_file_path()
    if path is None:
        return [], None
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [], f"{path}: {exc}"
    cli = data.get("cli", {})
    recipes = cli.get("recipes", []) if isinstance(cli, dict) else []
    if isinstance(recipes, str):
        recipes = [recipes]
    if not isinstance(recipes, list) or not all(isinstance(r, str) for r in recipes):
        return [], f"{path}: [cli] recipes must be a list of 'module:attr' strings"
    return list(recipes), None


def _load_spec(name: str | None, spec: str, source: str) -> RecipeEntry:
    module_name, _, attr = spec.strip().partition(":")
    guess = name or module_name.split(".")[0]
    if not module_name or not attr:
        return RecipeEntry(guess, spec, source, error=f"{spec!r} is not of the form module:attr")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # any import-time failure must surface, never vanish
        return RecipeEntry(guess, spec, source, error=f"{type(exc).__name__}: {exc}")
    if not isinstance(obj, Recipe):
        return RecipeEntry(
            guess, spec, source, error=f"{spec} is a {type(obj).__name__}, not a kit_cli Recipe"
        )
    return RecipeEntry(name or obj.name, spec, source, recipe=obj)


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    """`(name, value)` pairs of one `[group]` section of an entry_points.txt."""
    pairs: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.split("[", 1)[0].strip()))
    return pairs


def scan_entry_points(group: str) -> list[tuple[str, str, str]]:
    """`(name, value, distribution)` of every entry point in `group` on `sys.path`.

    Reads the `*.dist-info/entry_points.txt` files directly: `importlib.metadata` costs
    ~100 ms of imports (email, zipfile, csv) at every `nemotron --help`. The first
    distribution of a name on sys.path wins, as with importlib.metadata. When a sys.path
    entry is an archive (zip import), importlib.metadata is used instead.
    """
    import sys

    if any(Path(entry).is_file() for entry in sys.path if entry):
        from importlib.metadata import entry_points

        return [(ep.name, ep.value, ep.dist.name if ep.dist else "?")
                for ep in entry_points(group=group)]
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            dist = folder.rsplit(".", 1)[0].split("-", 1)[0]
            key = dist.lower().replace("-", "_").replace(".", "_")
            if key in seen:
                continue
            seen.add(key)
            try:
                text = (Path(entry or ".") / folder / "entry_points.txt").read_text(
                    encoding="utf-8")
            except OSError:
                continue
            found += [(name, value, dist) for name, value in _parse_entry_points(text, group)]
    return found


def discover_recipes() -> list[RecipeEntry]:
    """Every registered recipe, first registration of a name winning, in discovery order."""
    found: list[RecipeEntry] = []
    for name, value, dist in scan_entry_points(ENTRY_POINT_GROUP):
        found.append(_load_spec(name, value, f"entry point of {dist}"))
    specs, env_error = _env_specs()
    if env_error is not None:
        found.append(RecipeEntry("env.toml", "[cli] recipes", "env.toml", error=env_error))
    for spec in specs:
        found.append(_load_spec(None, spec, "env.toml [cli] recipes"))
    for spec in os.environ.get("NEMOTRON_RECIPES", "").split(","):
        if spec.strip():
            found.append(_load_spec(None, spec, "NEMOTRON_RECIPES"))
    unique: dict[str, RecipeEntry] = {}
    for entry in found:
        unique.setdefault(entry.name, entry)
    return list(unique.values())
