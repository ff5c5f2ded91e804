"""`pants run recipes/nano3:nemotron -- ...`: the `nemotron` CLI with the nano3 recipe registered.

Installed wheels register recipes through the `nemotron.recipes` entry point; a PEX built from
the source tree has no such metadata, so this launcher names the recipe explicitly.
"""
from __future__ import annotations

import os

__all__ = ["main"]


def main() -> None:
    """Run `nemotron` with nano3 registered (kept import-light for a fast `--help`)."""
    os.environ.setdefault("NEMOTRON_RECIPES", "nano3.recipe:RECIPE")
    from kit_cli.main import main as nemotron_main

    nemotron_main()


if __name__ == "__main__":
    main()
