"""The kit's own command groups on the `nemotron` app: `art`, `job`, `env`, `runs`, `rerun`."""
from __future__ import annotations

import typer

from kit_cli._cmd_art import art_app
from kit_cli._cmd_jobs import env_app, job_app
from kit_cli._cmd_runs import rerun_command, runs_app
from kit_cli._cmd_sync import sync_command

__all__ = ["add_kit_commands"]


def add_kit_commands(app: typer.Typer) -> None:
    """Attach the kit's command groups to `app`."""
    for name, group in (("art", art_app), ("job", job_app), ("env", env_app),
                        ("runs", runs_app)):
        app.add_typer(group, name=name, rich_help_panel="Kit")
    app.command("rerun", rich_help_panel="Kit")(rerun_command)
    app.command("sync", rich_help_panel="Kit")(sync_command)
