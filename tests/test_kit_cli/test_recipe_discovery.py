"""Recipe/Stage config lookup and recipe discovery from every source, broken ones kept."""
from __future__ import annotations

from pathlib import Path

import pytest

from kit_cli import discover_recipes
from kit_cli.errors import ConfigNameError, UnknownStageError
from kit_cli.recipe import Recipe


def test_config_names_and_resolution(demo_recipe: Recipe, config_dir: Path, tmp_path: Path):
    """Names resolve in the config folder, paths as files, no -c picks `default`."""
    stage = demo_recipe.stage("train")
    assert stage.config_names() == ["default", "tiny"]
    assert stage.resolve_config("tiny") == (config_dir / "tiny.yaml").resolve()
    assert stage.resolve_config(None) == (config_dir / "default.yaml").resolve()
    own = tmp_path / "mine.yaml"
    own.write_text("a: 1\n")
    assert stage.resolve_config(str(own)) == own.resolve()


def test_unknown_config_name(demo_recipe: Recipe):
    """An unknown -c NAME lists the available configs in a one-line error."""
    with pytest.raises(ConfigNameError) as info:
        demo_recipe.stage("train").resolve_config("huge")
    assert "default, tiny" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_stage(demo_recipe: Recipe):
    """Asking a recipe for a stage it lacks names the known stages."""
    with pytest.raises(UnknownStageError) as info:
        demo_recipe.stage("nope")
    assert info.value.known == ("train", "prep")


def _write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(body)


@pytest.fixture()
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path for recipe registration modules written by a test."""
    folder = tmp_path / "mods"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


GOOD = (
    "from kit_cli.recipe import Recipe, Stage\n"
    "RECIPE = Recipe('good', 'Good recipe.', [Stage('s', 'json.tool')])\n"
)


@pytest.mark.parametrize(
    ("body", "spec", "reason"),
    [
        pytest.param("raise RuntimeError('boom')\n", "bad_raises:RECIPE", "RuntimeError: boom",
                     id="import-raises"),
        pytest.param("X = 1\n", "bad_type:X", "not a kit_cli Recipe", id="not-a-recipe"),
        pytest.param("Y = 1\n", "bad_attr:RECIPE", "AttributeError", id="missing-attribute"),
        pytest.param(None, "no_such_module_xyz:R", "ModuleNotFoundError", id="missing-module"),
        pytest.param(None, "nocolon", "not of the form module:attr", id="malformed-spec"),
    ],
)
def test_broken_registrations_are_kept(module_dir, monkeypatch, body, spec, reason):
    """A registration that fails to load is reported with its reason, never dropped."""
    if body is not None:
        _write_module(module_dir, spec.split(":")[0], body)
    monkeypatch.setenv("NEMOTRON_RECIPES", spec)
    (entry,) = discover_recipes()
    assert entry.broken
    assert reason in (entry.error or "")
    assert entry.source == "NEMOTRON_RECIPES"


def test_env_toml_and_env_var_sources(module_dir, monkeypatch, tmp_path):
    """Recipes come from env.toml `[cli] recipes` and NEMOTRON_RECIPES; first name wins."""
    _write_module(module_dir, "good_recipe", GOOD)
    env = tmp_path / "env.toml"
    env.write_text('[cli]\nrecipes = ["good_recipe:RECIPE"]\n[local]\nexecutor = "local"\n')
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env))
    monkeypatch.setenv("NEMOTRON_RECIPES", "good_recipe:RECIPE, other_missing:R")
    entries = discover_recipes()
    assert [(e.name, e.source, e.broken) for e in entries] == [
        ("good", "env.toml [cli] recipes", False),
        ("other_missing", "NEMOTRON_RECIPES", True),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("[cli]\nrecipes = [1]\n", "must be a list", id="recipes-not-strings"),
        pytest.param("[cli\n", "env.toml", id="toml-syntax-error"),
    ],
)
def test_bad_env_toml_is_reported(monkeypatch, tmp_path, text, reason):
    """A malformed env.toml shows up as a broken entry instead of crashing `--help`."""
    env = tmp_path / "env.toml"
    env.write_text(text)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env))
    (entry,) = discover_recipes()
    assert entry.broken
    assert reason in (entry.error or "")


def test_entry_point_scan_matches_importlib_metadata(tmp_path, monkeypatch):
    """The fast dist-info scan finds the `nemotron.recipes` entry points importlib finds."""
    import importlib.metadata

    from kit_cli._discovery import scan_entry_points

    info = tmp_path / "fake_recipes-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-recipes\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nx = y:z\n\n[nemotron.recipes]\n"
        "fake = fake_recipe_mod:RECIPE\n# a comment\nother = fake_recipe_mod:MISSING [extra]\n")
    (tmp_path / "fake_recipe_mod.py").write_text(
        "from kit_cli.recipe import Recipe\nRECIPE = Recipe('fake', 'Fake.', [])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = [e for e in scan_entry_points("nemotron.recipes") if e[2] == "fake_recipes"]
    theirs = [(ep.name, ep.value.split(" [")[0], "fake_recipes")
              for ep in importlib.metadata.entry_points(group="nemotron.recipes")
              if ep.dist is not None and ep.dist.name == "fake-recipes"]
    assert ours == [("fake", "fake_recipe_mod:RECIPE", "fake_recipes"),
                    ("other", "fake_recipe_mod:MISSING", "fake_recipes")]
    assert sorted(ours) == sorted(theirs)
    entries = {e.name: e for e in discover_recipes()}
    assert entries["fake"].recipe is not None and entries["fake"].source.startswith("entry point")
    assert entries["other"].broken and "MISSING" in (entries["other"].error or "")
