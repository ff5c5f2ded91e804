"""nemotron.kit.artifacts: Artifact classes, the registry, art:// URIs and lineage. (re-exports `kit_artifacts`)."""
from __future__ import annotations

from kit_artifacts import *  # noqa: F403
from kit_artifacts import __all__ as __all__
