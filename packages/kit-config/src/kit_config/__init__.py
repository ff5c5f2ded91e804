"""kit-config: configuration loading, overrides, typed configs and provenance.

`import kit_config` is cheap: the public names below are bound on first access, so
omegaconf, hydra and cattrs load only when a config is actually handled.
"""

from __future__ import annotations

import importlib

from kit_config.errors import (
    ConfigError,
    ConfigFileError,
    ConfigNotFoundError,
    ConfigProblem,
    ConfigValidationError,
    InterpolationError,
    KitError,
    OverrideError,
    ProvenanceError,
    ResolverError,
)

# `typing` costs ~10 ms to import and nothing here needs it at run time; type checkers
# treat any name TYPE_CHECKING as the real one.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kit_config._cli import cli
    from kit_config._compose import compose
    from kit_config._converter import register_structure_hook
    from kit_config._loading import load_config, load_omegaconf_yaml
    from kit_config._overrides import apply_hydra_overrides
    from kit_config._provenance import (
        Provenance,
        SourceRecord,
        load_provenance,
        recompose,
        save_provenance,
    )
    from kit_config._resolvers import load_resolver_plugins, register_resolver
    from kit_config._secrets import is_secret_key, mask_secrets
    from kit_config._structure import structure, to_container, unstructure

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigNotFoundError",
    "ConfigProblem",
    "ConfigValidationError",
    "InterpolationError",
    "KitError",
    "OverrideError",
    "Provenance",
    "ProvenanceError",
    "ResolverError",
    "SourceRecord",
    "apply_hydra_overrides",
    "cli",
    "compose",
    "is_secret_key",
    "load_config",
    "load_omegaconf_yaml",
    "load_provenance",
    "load_resolver_plugins",
    "mask_secrets",
    "recompose",
    "register_resolver",
    "register_structure_hook",
    "save_provenance",
    "structure",
    "to_container",
    "unstructure",
]

# Public name -> private module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "Provenance": "_provenance",
    "SourceRecord": "_provenance",
    "apply_hydra_overrides": "_overrides",
    "cli": "_cli",
    "compose": "_compose",
    "is_secret_key": "_secrets",
    "load_config": "_loading",
    "load_omegaconf_yaml": "_loading",
    "load_provenance": "_provenance",
    "load_resolver_plugins": "_resolvers",
    "mask_secrets": "_secrets",
    "recompose": "_provenance",
    "register_resolver": "_resolvers",
    "register_structure_hook": "_converter",
    "save_provenance": "_provenance",
    "structure": "_structure",
    "to_container": "_structure",
    "unstructure": "_structure",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kit_config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kit_config.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
