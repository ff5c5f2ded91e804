"""Resolver registry: `register_resolver`, and lazy loading of the entry-point plugins.

Other packages add resolvers (kit-artifacts adds `art`) in two ways: by calling
`register_resolver` when they are imported, and through the entry-point group
`kit_config.resolvers` (name = resolver name, object = the callable). Scanning installed
distributions costs tens of milliseconds, so the group is read once, on the first
resolution kit-config performs, never at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kit_config.errors import ResolverError

__all__ = [
    "ENTRY_POINT_GROUP",
    "known_resolvers",
    "load_resolver_plugins",
    "plugin_failures",
    "register_resolver",
]

ENTRY_POINT_GROUP = "kit_config.resolvers"

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_registered: dict[str, Callable[..., Any]] = {}
_plugins_loaded = False
_plugin_failures: dict[str, str] = {}


def register_resolver(name: str, fn: Callable[..., Any], *, replace: bool = False) -> None:
    """Register `fn` as the OmegaConf resolver `${name:...}`.

    Registering the same function twice is a no-op (a package may be imported by several
    paths); registering a different one under a taken name needs `replace=True`.
    """
    from omegaconf import OmegaConf

    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ResolverError(
            f"invalid resolver name {name!r}",
            resolver=name,
            hint="use dotted Python identifiers, e.g. 'art' or 'my_pkg.thing'",
        )
    with _lock:
        previous = _registered.get(name)
        if previous is fn:
            return
        exists = previous is not None or OmegaConf.has_resolver(name)
        if exists and not replace:
            raise ResolverError(
                f"resolver {name!r} is already registered",
                resolver=name,
                hint="pass replace=True to replace it",
            )
        OmegaConf.register_new_resolver(name, fn, replace=exists)
        _registered[name] = fn


def _builtin_resolvers() -> None:
    """Register the resolvers kit-config itself provides (Hydra's `now` among them)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("now"):
        register_resolver(
            "now", lambda pattern="%Y-%m-%d_%H-%M-%S": datetime.now().strftime(pattern)
        )


def load_resolver_plugins() -> None:
    """Load the `kit_config.resolvers` entry points once (later calls return at once).

    A plugin that fails to load is logged and skipped: one broken package must not stop
    every config from resolving. Its failure is named when its resolver is then used.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    from importlib.metadata import entry_points

    from omegaconf import OmegaConf

    with _lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
    _builtin_resolvers()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if OmegaConf.has_resolver(ep.name):
            continue  # the package registered it at import time already
        try:
            fn = ep.load()
            if not callable(fn):
                raise TypeError(f"{ep.value} is not callable")
            register_resolver(ep.name, fn)
        except Exception as exc:  # a plugin's failure is its own; report, keep going
            _plugin_failures[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
            _log.warning("kit_config: resolver plugin %r failed to load (%s)", ep.name, exc)


def plugin_failures() -> dict[str, str]:
    """Return resolver plugins that failed to load: name -> reason."""
    return dict(_plugin_failures)


def known_resolvers() -> list[str]:
    """Return the names of every resolver OmegaConf knows now, sorted."""
    from omegaconf import OmegaConf

    # OmegaConf keeps its registry private; has_resolver is the only public probe.
    names = set(_registered)
    from omegaconf.basecontainer import BaseContainer

    names.update(getattr(BaseContainer, "_resolvers", {}).keys())
    return sorted(n for n in names if OmegaConf.has_resolver(n))
