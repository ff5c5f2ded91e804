"""nemotron.kit.run: env.toml profiles and NeMo-Run execution. (re-exports `kit_run`)."""
from __future__ import annotations

from kit_run import *  # noqa: F403
from kit_run import __all__ as __all__
