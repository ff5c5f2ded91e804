"""Entry point of the `nemotron` console script (`kit_cli.main:main`).

Importing this module is cheap: recipes load when the app is built, and kit-run,
kit-track, nemo-run, wandb and torch only inside the commands that need them.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run `nemotron` with `argv` (default `sys.argv[1:]`); exits the process."""
    from kit_cli._app import build_app

    app = build_app()
    app(args=list(argv) if argv is not None else None, prog_name="nemotron")


if __name__ == "__main__":
    main()
