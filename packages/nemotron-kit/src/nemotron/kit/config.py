"""nemotron.kit.config: Configuration loading, overrides, typed configs and provenance. (re-exports `kit_config`)."""
from __future__ import annotations

from kit_config import *  # noqa: F403
from kit_config import __all__ as __all__
