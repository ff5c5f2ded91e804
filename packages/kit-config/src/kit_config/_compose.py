"""`compose`: load a config file (or start empty) and apply overrides, unresolved."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit_config._loading import create_config, read_config_tree
from kit_config._overrides import apply_overrides_in_place
from kit_config._sources import SourceInfo, attach_sources

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = ["compose"]


def compose(
    config_file: str | os.PathLike[str] | None,
    overrides: Sequence[str] = (),
    *,
    base: dict[str, Any] | None = None,
) -> DictConfig:
    """Load `config_file` (None: start from `base`, or empty) and apply `overrides`.

    Interpolations are NOT resolved: `structure()`/`to_container()` resolve them, so a
    saved composition still shows `${oc.env:...}` where the user wrote it.
    """
    info = SourceInfo()
    if config_file is not None:
        info.root = str(Path(config_file).resolve())
        data = read_config_tree(Path(config_file), info)
    else:
        info.base = copy.deepcopy(base) if base else None
        data = copy.deepcopy(base) if base else {}
    cfg = create_config(data, info, str(config_file) if config_file is not None else "<empty>")
    apply_overrides_in_place(cfg, overrides, info)
    attach_sources(cfg, info)
    return cfg
