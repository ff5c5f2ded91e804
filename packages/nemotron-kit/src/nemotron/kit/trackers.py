"""nemotron.kit.trackers: Lineage tracking backends. (re-exports `kit_track`)."""
from __future__ import annotations

from kit_track import *  # noqa: F403
from kit_track import __all__ as __all__
