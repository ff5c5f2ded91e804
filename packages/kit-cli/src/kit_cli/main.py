"""Entry point of the `nemotron` console script (`kit_cli.main:main`).

Importing this module is cheap: recipes load when the app is built, and kit-run,
kit-track, nemo-run, wandb and torch only inside the commands that need them.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run `nemotron` with `argv` (default `sys.argv[1:]`); exits the process."""
    import sys

    from kit_cli._app import build_app
    from kit_cli._discovery import discover_recipes

    args = list(sys.argv[1:] if argv is None else argv)
    entries = discover_recipes()
    # `nemotron RECIPE ...` only needs that recipe's group: building just it keeps a stage's
    # --help and dry run from paying for the kit commands' modules.
    chosen = [e for e in entries if args and e.name == args[0]]
    app = build_app(chosen, kit_commands=False) if chosen else build_app(entries)
    app(args=args, prog_name="nemotron")
