"""The effective W&B settings of a run: its config's `wandb` section over `WANDB_*`.

`WandbConfig` itself lives in kit-config (a stage config embeds it, and importing it must
not import kit-track: data-prep configs stay light); kit-track re-exports it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kit_config import WandbConfig

__all__ = ["setting", "wandb_section"]


def setting(config: object, *path: str) -> Any:
    """`config.a.b` for dicts, DictConfigs and attribute objects; None when absent."""
    node: Any = config
    for key in path:
        if node is None:
            return None
        node = node.get(key) if isinstance(node, Mapping) else getattr(node, key, None)
    return node


def wandb_section(config: object, environ: Mapping[str, str] | None = None) -> WandbConfig:
    """The effective W&B settings of a run config: its `wandb` section over `WANDB_*`.

    `config` is a whole config (with a `wandb` section), the section itself (a
    `WandbConfig` or a mapping with `project`/`entity`/...), or None.
    """
    section: object = setting(config, "wandb")
    if section is None and (isinstance(config, WandbConfig) or setting(config, "project")):
        section = config
    if isinstance(section, WandbConfig):
        own = section
    elif section is None:
        own = WandbConfig()
    else:
        values: dict[str, Any] = {f.name: setting(section, f.name)
                                  for f in attrs.fields(WandbConfig)}
        values["tags"] = values["tags"] or ()
        own = WandbConfig(**values)
    return own.over(WandbConfig.from_env(environ))
