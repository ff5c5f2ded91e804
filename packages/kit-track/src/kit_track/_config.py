"""Turning whatever config a recipe has (DictConfig, attrs, dataclass, dict) into JSON."""
from __future__ import annotations

from typing import Any

from kit_config import plain_data, scrub_secrets

__all__ = ["config_to_dict"]


def config_to_dict(config: object) -> dict[str, Any]:
    """A resolved, JSON-ready, secret-scrubbed copy of `config`.

    A DictConfig is resolved here, inside the run, so `${art:...}` interpolations report
    their artifacts to the run as inputs.
    """
    if config is None:
        return {}
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(config, DictConfig | ListConfig):
        config = OmegaConf.to_container(config, resolve=True)
    plain = plain_data(config)
    if not isinstance(plain, dict):
        return {"value": scrub_secrets(plain)}
    result: dict[str, Any] = scrub_secrets(plain)
    return result
