"""nemotron.kit.config: configuration loading, overrides, typed configs, provenance.

Re-exports `kit_config`.
"""
from __future__ import annotations

from kit_config import *  # noqa: F403
from kit_config import __all__ as __all__
