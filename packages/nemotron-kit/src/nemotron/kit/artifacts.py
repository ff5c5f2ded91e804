"""nemotron.kit.artifacts: artifact classes, the registry, art:// URIs and lineage.

Re-exports `kit_artifacts`.
"""
from __future__ import annotations

from kit_artifacts import *  # noqa: F403
from kit_artifacts import __all__ as __all__
