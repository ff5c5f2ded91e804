"""kit-config: configuration loading, overrides, typed configs and provenance."""
from __future__ import annotations

from kit_config.errors import ConfigError, KitError

__all__ = ["ConfigError", "KitError"]
