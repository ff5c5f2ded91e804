"""Every kit package ships its own version, README, changelog and py.typed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGES = {
    "kit-config": "kit_config",
    "kit-artifacts": "kit_artifacts",
    "kit-track": "kit_track",
    "kit-run": "kit_run",
    "kit-cli": "kit_cli",
    "nemotron-kit": "nemotron/kit",
}


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "packages").is_dir():
            return parent
    # Pants runs tests in a sandbox whose root holds the declared files.
    return Path.cwd()


ROOT = _repo_root()


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_version_is_a_single_pep440_release(folder: str) -> None:
    """VERSION holds exactly one release version such as 0.1.0, the one place to bump."""
    text = (ROOT / "packages" / folder / "VERSION").read_text()
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?\n?", text), text


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_changelog_has_an_entry_for_the_current_version(folder: str) -> None:
    """CHANGELOG.md names the version in VERSION, so a bump without notes is caught."""
    version = (ROOT / "packages" / folder / "VERSION").read_text().strip()
    changelog = (ROOT / "packages" / folder / "CHANGELOG.md").read_text()
    assert f"## {version}" in changelog


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_readme_names_the_distribution_and_import(folder: str) -> None:
    """README.md names the distribution it documents and its import package."""
    readme = (ROOT / "packages" / folder / "README.md").read_text()
    assert folder in readme
    assert PACKAGES[folder].replace("/", ".") in readme


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_py_typed_marker_is_present(folder: str) -> None:
    """Each import package carries a py.typed marker so type checkers use its hints."""
    assert (ROOT / "packages" / folder / "src" / PACKAGES[folder] / "py.typed").is_file()
