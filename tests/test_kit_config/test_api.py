"""The public surface of kit_config: exact `__all__`, sorted, importable, and cheap to import."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

import kit_config

EXPECTED = [
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

MODULES = [
    "kit_config.errors",
    "kit_config._cli",
    "kit_config._compose",
    "kit_config._converter",
    "kit_config._files",
    "kit_config._home",
    "kit_config._loading",
    "kit_config._overrides",
    "kit_config._process",
    "kit_config._provenance",
    "kit_config._readers",
    "kit_config._resolvers",
    "kit_config._secrets",
    "kit_config._sources",
    "kit_config._structure",
    "kit_config._suggest",
]


def test_package_all_is_exact_sorted_and_importable() -> None:
    """`kit_config.__all__` equals the documented list, is sorted, and every name resolves."""
    assert kit_config.__all__ == EXPECTED
    assert sorted(set(kit_config.__all__)) == kit_config.__all__
    for name in kit_config.__all__:
        assert getattr(kit_config, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_private_modules_have_sorted_all(module: str) -> None:
    """Every module declares a sorted, duplicate-free `__all__` of names it defines."""
    mod = importlib.import_module(module)
    names = mod.__all__
    assert names == sorted(set(names))
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"


def test_unknown_attribute_is_attribute_error() -> None:
    """A name that is not public raises AttributeError (the lazy loader does not guess)."""
    with pytest.raises(AttributeError):
        kit_config.no_such_name  # noqa: B018


def test_import_loads_no_heavy_modules() -> None:
    """`import kit_config` loads neither omegaconf, hydra, cattrs nor yaml (fast start)."""
    code = (
        "import sys, kit_config\n"
        "names = ('omegaconf', 'hydra', 'cattrs', 'yaml', 'antlr4')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ""


def test_errors_subclass_their_builtins() -> None:
    """Each concrete error is also the builtin it is, and all root in KitError."""
    e = kit_config.errors
    assert issubclass(e.ConfigNotFoundError, FileNotFoundError)
    for cls in (e.ConfigFileError, e.OverrideError, e.ConfigValidationError, e.InterpolationError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, e.ConfigError)
        assert issubclass(cls, e.KitError)
    assert e.KitError("x").exit_code == 2
    assert str(e.KitError("bad thing", hint="do this")) == "bad thing; do this"
