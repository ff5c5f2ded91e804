"""`WandbConfig`: the `wandb:` section of a stage config and the `[wandb]` table of env.toml.

One shape for both, so a recipe config and env.toml say the same thing the same way. It
lives here, at the bottom, because recipe configs embed it and must stay light to import
(kit-track, which reads it, re-exports it). Precedence (highest first): the command line
(`wandb.project=...`, an override of the config), the stage config's `wandb:` section, the
environment (`WANDB_*`, which kit-cli fills from env.toml `[wandb]` for local runs and
cluster jobs). The API key is never a setting here: it travels only as a job secret.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kit_config.errors import ConfigProblem, ConfigValidationError

__all__ = ["WANDB_ENV", "WandbConfig"]

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


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, list | tuple):
        return tuple(str(t) for t in value)
    raise ConfigValidationError([ConfigProblem("wandb.tags", "expected a list of strings")],
                                schema="WandbConfig")


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
    def from_mapping(cls, table: Mapping[str, Any], *, file: str | None = None) -> WandbConfig:
        """Validate a plain table (env.toml `[wandb]`): every unknown key, an API key and a
        bad mode are reported at once as a one-line `ConfigValidationError`."""
        from kit_config._suggest import closest

        known = [f.name for f in attrs.fields(cls)]
        problems: list[ConfigProblem] = []
        hint = None
        for key in table:
            if key in known:
                continue
            near = closest(str(key), known)
            tip = f" (did you mean {near!r}?)" if near else f" (known: {', '.join(known)})"
            if "key" in str(key).lower() or "token" in str(key).lower():
                tip = " (an API key is never a setting)"
                hint = ("run `wandb login` or export WANDB_API_KEY: jobs get it through "
                        "their secrets file")
            problems.append(ConfigProblem(f"wandb.{key}", f"unknown key {key!r}{tip}", file))
        mode = table.get("mode")
        if mode is not None and mode not in _MODES:
            problems.append(ConfigProblem(
                "wandb.mode", f"expected one of {', '.join(_MODES)}, got {mode!r}", file))
        if problems:
            raise ConfigValidationError(problems, schema="WandbConfig",
                                        hint=hint or "fix each key listed")
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
