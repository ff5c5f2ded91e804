"""Turning whatever config a recipe has (DictConfig, attrs, dataclass, dict) into JSON."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import attrs

from kit_config import scrub_secrets

__all__ = ["config_to_dict"]


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    if attrs.has(type(obj)):
        return _plain(attrs.asdict(obj, recurse=False))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def config_to_dict(config: object) -> dict[str, Any]:
    """A resolved, JSON-ready, secret-scrubbed copy of `config`.

    A DictConfig is resolved here, inside the run, so `${art:...}` interpolations report
    their artifacts to the run as inputs.
    """
    if config is None:
        return {}
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # omegaconf is a kit-config dependency; tolerate its absence
        pass
    else:
        if isinstance(config, DictConfig | ListConfig):
            config = OmegaConf.to_container(config, resolve=True)
    plain = _plain(config)
    if not isinstance(plain, dict):
        return {"value": scrub_secrets(plain)}
    result: dict[str, Any] = scrub_secrets(plain)
    return result
