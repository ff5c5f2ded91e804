"""kit-config: configuration loading, overrides, typed configs and provenance, and the
kit's shared floor: the home layout, atomic writes, run id, config digest, the secret
policy, rank/world detection and did-you-mean.

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
    from kit_config._files import (
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
        atomic_writer,
        config_digest,
        plain_data,
    )
    from kit_config._home import find_env_file, home_dir, nemotron_home
    from kit_config._loading import load_config, load_omegaconf_yaml
    from kit_config._overrides import apply_hydra_overrides
    from kit_config._process import RUN_ID_ENV, local_rank, new_run_id, process_rank, world_size
    from kit_config._provenance import (
        Provenance,
        SourceRecord,
        load_provenance,
        recompose,
        save_provenance,
    )
    from kit_config._resolvers import load_resolver_plugins, register_resolver
    from kit_config._secrets import (
        SECRET_MASK,
        is_secret_key,
        mask_argv,
        mask_override,
        mask_secrets,
        scrub_secrets,
        scrub_text,
        secret_values,
    )
    from kit_config._structure import structure, to_container, unstructure
    from kit_config._suggest import closest, did_you_mean
    from kit_config._wandb import WandbConfig

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
    "RUN_ID_ENV",
    "ResolverError",
    "SECRET_MASK",
    "SourceRecord",
    "WandbConfig",
    "apply_hydra_overrides",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "cli",
    "closest",
    "compose",
    "config_digest",
    "did_you_mean",
    "find_env_file",
    "home_dir",
    "is_secret_key",
    "load_config",
    "load_omegaconf_yaml",
    "load_provenance",
    "load_resolver_plugins",
    "local_rank",
    "mask_argv",
    "mask_override",
    "mask_secrets",
    "nemotron_home",
    "new_run_id",
    "plain_data",
    "process_rank",
    "recompose",
    "register_resolver",
    "register_structure_hook",
    "save_provenance",
    "scrub_secrets",
    "scrub_text",
    "secret_values",
    "structure",
    "to_container",
    "unstructure",
    "world_size",
]

# Public name -> private module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "Provenance": "_provenance",
    "RUN_ID_ENV": "_process",
    "SECRET_MASK": "_secrets",
    "SourceRecord": "_provenance",
    "WandbConfig": "_wandb",
    "apply_hydra_overrides": "_overrides",
    "atomic_write_bytes": "_files",
    "atomic_write_json": "_files",
    "atomic_write_text": "_files",
    "atomic_writer": "_files",
    "cli": "_cli",
    "closest": "_suggest",
    "compose": "_compose",
    "config_digest": "_files",
    "did_you_mean": "_suggest",
    "find_env_file": "_home",
    "home_dir": "_home",
    "is_secret_key": "_secrets",
    "load_config": "_loading",
    "load_omegaconf_yaml": "_loading",
    "load_provenance": "_provenance",
    "load_resolver_plugins": "_resolvers",
    "local_rank": "_process",
    "mask_argv": "_secrets",
    "mask_override": "_secrets",
    "mask_secrets": "_secrets",
    "nemotron_home": "_home",
    "new_run_id": "_process",
    "plain_data": "_files",
    "process_rank": "_process",
    "recompose": "_provenance",
    "register_resolver": "_resolvers",
    "register_structure_hook": "_converter",
    "save_provenance": "_provenance",
    "scrub_secrets": "_secrets",
    "scrub_text": "_secrets",
    "secret_values": "_secrets",
    "structure": "_structure",
    "to_container": "_structure",
    "unstructure": "_structure",
    "world_size": "_process",
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
