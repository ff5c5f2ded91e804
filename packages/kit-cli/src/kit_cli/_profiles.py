"""Light reads of env.toml for help panels and completion (no kit-run import, no validation).

Running a stage validates its profile through kit-run; `--help` and tab completion only need
the names, and must neither fail nor slow down on a profile that kit-run would reject.
"""
from __future__ import annotations

import tomllib
from typing import Any

from kit_cli._discovery import env_file_path

__all__ = ["RESERVED_TABLES", "profile_summaries"]

RESERVED_TABLES = frozenset({"wandb", "artifacts", "cli"})


def profile_summaries() -> dict[str, str]:
    """`{profile name: short description}` from env.toml; empty when there is none."""
    path = env_file_path()
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    summaries: dict[str, str] = {}
    for name, table in data.items():
        if name in RESERVED_TABLES or not isinstance(table, dict):
            continue
        parts = [str(table.get("executor", "(inherited)" if "extends" in table else "local"))]
        if "extends" in table:
            parts.append(f"extends {table['extends']}")
        for key in ("nodes", "gpus_per_node", "partition", "host"):
            if key in table:
                parts.append(f"{key}={table[key]}")
        summaries[name] = ", ".join(parts)
    return summaries
