"""Tests of the `nemotron.kit` facade."""
from __future__ import annotations

import dataclasses
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nemotron.kit as kit

EXPECTED = [
    "Artifact", "ArtifactRef", "ArtifactRegistry", "InputDatasetInfo", "KitError",
    "ModelArtifact", "PretrainBlendsArtifact", "Recipe", "SFTDataArtifact",
    "SplitJsonlDataArtifact", "Stage", "add_wandb_tags", "apply_hydra_overrides",
    "build_executor", "cli", "current_run", "finish_wandb", "get_registry",
    "init_wandb_if_configured", "lineage", "load_config", "load_env_profile",
    "load_omegaconf_yaml", "run_stage", "start_run", "structure",
]


@dataclasses.dataclass
class QuickConfig:
    """The overview's quick-example config."""

    output_dir: Path
    learning_rate: float = 1e-4


def test_all_is_exact_and_sorted() -> None:
    """The facade's `__all__` is sorted, duplicate-free and exactly the documented API."""
    assert kit.__all__ == sorted(kit.__all__)
    assert kit.__all__ == EXPECTED


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "cli"])
def test_every_name_resolves_to_the_package_object(name: str) -> None:
    """Each facade name is the very object its kit package defines (no copies)."""
    source = importlib.import_module(kit._SOURCE[name])
    assert getattr(kit, name) is getattr(source, name)


def test_unknown_name_is_an_attribute_error() -> None:
    """A name the facade does not offer raises AttributeError naming it."""
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = kit.no_such_thing  # type: ignore[attr-defined]


@pytest.mark.parametrize("module", ["artifacts", "cli", "config", "run", "trackers", "wandb"])
def test_submodules_mirror_the_overview_structure(module: str) -> None:
    """Every submodule of the overview's module structure imports and has a sorted `__all__`."""
    mod = importlib.import_module(f"nemotron.kit.{module}")
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"nemotron.kit.{module}.{name} is missing"


def test_import_is_light() -> None:
    """`import nemotron.kit` imports no kit package and nothing heavy until a name is used."""
    code = (
        "import sys, nemotron.kit\n"
        "heavy = [m for m in ('kit_cli', 'kit_run', 'nemo_run', 'wandb', 'torch', 'omegaconf')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("first", ["function", "module"])
def test_cli_is_the_function_and_the_module_in_either_import_order(
        first: str, tmp_path: Path) -> None:
    """`from nemotron.kit import cli` calls `kit_config.cli`, and `nemotron.kit.cli` is the
    module of the seed's map, whichever is imported first (fresh interpreter each time)."""
    code = (
        "import inspect, kit_config\n"
        + ("from nemotron.kit import cli\nimport nemotron.kit.cli as mod\n" if first == "function"
           else "import nemotron.kit.cli as mod\nfrom nemotron.kit import cli\n")
        + "import dataclasses\n"
        "@dataclasses.dataclass\nclass C:\n    lr: float = 1.0\n"
        "assert cli(C, argv=['lr=0.5']).lr == 0.5\n"
        "assert cli is mod and mod.Recipe.__name__ == 'Recipe' and callable(mod.load_env_file)\n"
        "assert inspect.signature(cli) == inspect.signature(kit_config.cli)\n"
        "assert mod.cli is kit_config.cli\n"
        "print('ok')\n"
    )
    # Absolute: Pants puts relative source roots on sys.path, and the child runs elsewhere.
    path = os.pathsep.join(str(Path(p).resolve()) for p in sys.path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=False, env={**os.environ, "PYTHONPATH": path})
    assert out.stdout.strip() == "ok", out.stderr


def test_overview_quick_example_names_work_together(tmp_path, monkeypatch) -> None:
    """The overview's quick example (cli + typed artifact save/load) works through the facade."""
    monkeypatch.setenv("NEMOTRON_HOME", str(tmp_path / "home"))

    config = kit.cli(QuickConfig, argv=[f"output_dir={tmp_path / 'out'}", "learning_rate=5e-5"])
    assert config.learning_rate == 5e-5
    config.output_dir.mkdir()
    model = kit.ModelArtifact(path=config.output_dir, step=10, loss=2.5)
    ref = model.save(name="facade-model")
    loaded = kit.ModelArtifact.from_uri(f"art://facade-model:v{ref.version}")
    assert loaded.step == 10 and loaded.final_loss == 2.5 and loaded.loss == 2.5
