"""Artifact type plugins loaded through the `kit_artifacts.types` entry-point group."""
from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import pytest

from kit_artifacts import _artifacts


class _BrokenEntryPoint:
    name = "BrokenArtifact"
    value = "missing_pkg.mod:BrokenArtifact"

    def load(self) -> Any:
        raise ModuleNotFoundError("No module named 'missing_pkg'")


def test_broken_type_plugin_is_reported_and_builtins_survive(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A plugin that fails to load is logged with its name and reason; built-in types remain."""
    monkeypatch.setattr(_artifacts, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [_BrokenEntryPoint()])
    with caplog.at_level(logging.WARNING, logger="kit_artifacts._artifacts"):
        types = _artifacts.artifact_types()
    assert "ModelArtifact" in types and "BrokenArtifact" not in types
    assert "BrokenArtifact" in caplog.text and "missing_pkg" in caplog.text
