"""`WandbConfig`: the `wandb:` section of a stage config and the `[wandb]` table of env.toml.

One shape for both, so a recipe config and env.toml say the same thing the same way.
Precedence (highest first): the command line (`wandb.project=...`, an override of the
config), the stage config's `wandb:` section, the environment (`WANDB_*`, which kit-cli fills
from env.toml `[wandb]` for local runs and cluster jobs). The API key is never a setting
here: it travels only as a job secret (`job_credentials`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kit_track.errors import TrackerConfigError

__all__ = ["WANDB_ENV", "WandbConfig", "setting", "wandb_section"]

WandbMode = Literal["online", "offline", "disabled"]
# Setting name -> the environment variable W&B (and kit-track) read it from.
WANDB_ENV: Mapping[str, str] = {
    "entity": "WANDB_ENTITY",
    "group": "WANDB_RUN_GROUP",
    "mode": "WANDB_MODE",
    "project": "WANDB_PROJECT",
    "tags": "WANDB_TAGS",
}
_MODES = ("online", "offline", "disabled")


def setting(config: object, *path: str) -> Any:
    """`config.a.b` for dicts, DictConfigs and attribute objects; None when absent."""
    node: Any = config
    for key in path:
        if node is None:
            return None
        node = node.get(key) if isinstance(node, Mapping) else getattr(node, key, None)
    return node


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list | tuple):
        return tuple(str(t) for t in value)
    raise TrackerConfigError("wandb.tags", value, "expected a list of strings")


@attrs.frozen(kw_only=True)
class WandbConfig:
    """W&B settings; no project means W&B stays off (the file record is always kept)."""

    project: str | None = None
    entity: str | None = None
    mode: WandbMode | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    group: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether these settings turn the W&B tracker on (a project, and not disabled)."""
        return bool(self.project) and self.mode != "disabled"

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, where: str = "wandb") -> WandbConfig:
        """Validate a plain table (env.toml `[wandb]`); unknown keys and bad modes are errors."""
        known = [f.name for f in attrs.fields(cls)]
        for key in table:
            if key not in known:
                import difflib

                near = difflib.get_close_matches(str(key), known, n=1)
                secret = "key" in str(key).lower() or "token" in str(key).lower()
                hint = (
                    "never put the API key in a config: run `wandb login` or export "
                    "WANDB_API_KEY (jobs get it through their secrets file)"
                    if secret
                    else f"did you mean {near[0]!r}?" if near
                    else f"known keys: {', '.join(known)}"
                )
                raise TrackerConfigError(f"{where}.{key}", "***" if secret else table[key],
                                         "unknown W&B setting", hint=hint)
        mode = table.get("mode")
        if mode is not None and mode not in _MODES:
            raise TrackerConfigError(f"{where}.mode", mode, f"must be one of {', '.join(_MODES)}")
        values: dict[str, Any] = {k: (str(v) if k != "tags" else v) for k, v in table.items()
                                  if v is not None}
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WandbConfig:
        """The settings the `WANDB_*` environment variables carry."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {k: env[v] for k, v in WANDB_ENV.items() if env.get(v)}
        if "mode" in values:
            # Not validated here: `WandbTracker` refuses a bad mode under the failure policy.
            values["mode"] = values["mode"].lower()
        return cls(**values)

    def env(self) -> dict[str, str]:
        """These settings as plain `WANDB_*` variables (for a job's environment)."""
        out: dict[str, str] = {}
        for name, var in WANDB_ENV.items():
            value = getattr(self, name)
            if value:
                out[var] = ",".join(value) if name == "tags" else str(value)
        return out

    def over(self, base: WandbConfig) -> WandbConfig:
        """These settings where set, `base`'s elsewhere; tags are the union of both."""
        merged = {f.name: getattr(self, f.name) or getattr(base, f.name)
                  for f in attrs.fields(WandbConfig)}
        merged["tags"] = tuple(dict.fromkeys([*base.tags, *self.tags]))
        return WandbConfig(**merged)


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
