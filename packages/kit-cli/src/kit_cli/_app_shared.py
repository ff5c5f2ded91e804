"""Helpers shared by the app's commands: completion sources and JSON output."""
from __future__ import annotations

import json
from typing import Any

from kit_config import plain_data

__all__ = ["complete_artifact", "complete_profile", "echo_json", "guarded"]


def complete_profile(incomplete: str) -> list[str]:
    """Profile names from env.toml for shell completion."""
    from kit_cli._profiles import profile_summaries

    return [name for name in profile_summaries() if name.startswith(incomplete)]


def complete_artifact(incomplete: str) -> list[str]:
    """Artifact names in the registry for shell completion (empty when it is unreachable)."""
    try:
        from kit_artifacts import get_registry

        names = list(get_registry().names())
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [str(name) for name in names if str(name).startswith(incomplete)]


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout."""
    print(json.dumps(plain_data(data), indent=2, sort_keys=True))


def guarded(fn: Any) -> Any:
    """Wrap a Typer command so that errors print as one line and exit with their code."""
    import functools

    import typer

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as error:
            from kit_cli._runner import report_error

            raise typer.Exit(report_error(error)) from None

    return wrapper
