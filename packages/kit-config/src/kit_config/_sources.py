"""Where each key of a composed config came from (file and line, or an override).

OmegaConf nodes cannot carry arbitrary metadata, so the location map of a config lives in
a side table keyed by the config object's id and dropped when the object dies. Every
kit-config function that returns a new config object re-attaches the map it computed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Location", "SourceInfo", "attach_sources", "sources_of"]


@dataclass(frozen=True)
class Location:
    """Origin of one key: a file and 1-based line (line None when unknown)."""

    file: str
    line: int | None = None


@dataclass
class SourceInfo:
    """Origin of every key of one config, and the files (in load order) it was made from."""

    locations: dict[str, Location] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    # The file the composition started from (None: started empty or from `base`).
    root: str | None = None
    # A starting config that came from no file (`cli()` builds one from class defaults).
    base: dict[str, Any] | None = None

    def copy(self) -> SourceInfo:
        """Return an independent copy (overrides mutate the copy, not the original)."""
        return SourceInfo(
            dict(self.locations), list(self.files), list(self.overrides), self.root, self.base
        )

    def locate(self, path: str) -> Location | None:
        """Return the location of `path`, or of its nearest ancestor that has one."""
        while True:
            loc = self.locations.get(path)
            if loc is not None or not path:
                return loc
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""


_TABLE: dict[int, SourceInfo] = {}


def attach_sources(cfg: Any, info: SourceInfo) -> None:
    """Remember `info` as the origin of `cfg` for as long as `cfg` lives."""
    key = id(cfg)
    if key not in _TABLE:
        weakref.finalize(cfg, _TABLE.pop, key, None)
    _TABLE[key] = info


def sources_of(cfg: Any) -> SourceInfo | None:
    """Return the origin recorded for `cfg`, or None (built outside kit-config)."""
    return _TABLE.get(id(cfg))
