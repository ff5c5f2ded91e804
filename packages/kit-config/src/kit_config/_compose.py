"""`compose`: load a config file (or start empty) and apply overrides, unresolved."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit_config._loading import create_config, merge_into, read_config_tree
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
    schema: type | None = None,
) -> DictConfig:
    """Layer `base` (or the defaults of the config class `schema`), `config_file`, `overrides`.

    With a schema every key the typed config has exists before the overrides apply, so
    `trainer.resume=false` is settable (no `+`) even when the file does not spell it, and a
    typo's did-you-mean comes from the schema. Interpolations are NOT resolved:
    `structure()`/`to_container()` resolve them, so a saved composition still shows
    `${oc.env:...}` where the user wrote it.
    """
    if schema is not None:
        from kit_config._cli import defaults_of

        base = defaults_of(schema) if base is None else base
    info = SourceInfo()
    info.base = copy.deepcopy(base) if base else None
    data = copy.deepcopy(base) if base else {}
    if config_file is not None:
        info.root = str(Path(config_file).resolve())
        merge_into(data, read_config_tree(Path(config_file), info))
    cfg = create_config(data, info, str(config_file) if config_file is not None else "<empty>")
    apply_overrides_in_place(cfg, overrides, info, closed=schema is not None)
    attach_sources(cfg, info)
    return cfg
