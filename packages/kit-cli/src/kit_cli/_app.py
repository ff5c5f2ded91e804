"""Build the `nemotron` Typer app: recipe groups (broken ones included) and kit commands."""
from __future__ import annotations

from typing import Annotated, Any

import typer

from kit_cli._app_shared import complete_profile
from kit_cli._discovery import RecipeEntry, discover_recipes
from kit_cli._help import RAW_ARGS_KEY, stage_command_class
from kit_cli.recipe import Recipe, Stage

__all__ = ["build_app"]

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}
_GLOBAL = "Global options"


def complete_config(ctx: typer.Context, incomplete: str) -> list[str]:
    """Built-in config names of the stage being completed."""
    stage: Stage | None = getattr(ctx.command, "stage", None)
    names = stage.config_names() if stage is not None else []
    return [name for name in names if name.startswith(incomplete)]


def _stage_callback(recipe: Recipe, stage: Stage) -> Any:
    def command(
        ctx: typer.Context,
        config: Annotated[
            str | None,
            typer.Option(
                "-c", "--config", metavar="NAME|PATH", rich_help_panel=_GLOBAL,
                help="Built-in config name (listed below) or a config file.",
                autocompletion=complete_config,
            ),
        ] = None,
        run: Annotated[
            str | None,
            typer.Option(
                "-r", "--run", metavar="PROFILE", rich_help_panel=_GLOBAL,
                help="Run under an env.toml profile and wait (attached).",
                autocompletion=complete_profile,
            ),
        ] = None,
        batch: Annotated[
            str | None,
            typer.Option(
                "-b", "--batch", metavar="PROFILE", rich_help_panel=_GLOBAL,
                help="Submit under an env.toml profile and return (detached).",
                autocompletion=complete_profile,
            ),
        ] = None,
        dry_run: Annotated[
            bool,
            typer.Option(
                "-d", "--dry-run", rich_help_panel=_GLOBAL,
                help="Show the pinned config, inputs and job; run nothing.",
            ),
        ] = False,
        dry_run_out: Annotated[
            str | None,
            typer.Option(
                "--dry-run-out", metavar="FILE", rich_help_panel=_GLOBAL,
                help="Dry run, and also write the report to FILE.",
            ),
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Argument(
                metavar="[OVERRIDES]... [-- ARGS]...", show_default=False,
                help="Config overrides (key.path=value) in any position.",
            ),
        ] = None,
    ) -> None:
        from kit_cli._runner import run_stage

        code = run_stage(recipe, " ".join(stage.command_path), ctx.meta[RAW_ARGS_KEY])
        if code:
            raise typer.Exit(code)

    command.__doc__ = stage.help or f"Run the {stage.name} stage of {recipe.name}."
    return command


def _recipe_group(recipe: Recipe) -> typer.Typer:
    group = typer.Typer(help=recipe.help, no_args_is_help=True, rich_markup_mode="rich")
    subgroups: dict[tuple[str, ...], typer.Typer] = {(): group}
    for stage in recipe.stages:
        for depth in range(1, len(stage.group) + 1):
            path = stage.group[:depth]
            if path not in subgroups:
                child = typer.Typer(no_args_is_help=True, help=f"{' '.join(path)} stages.")
                subgroups[path[:-1]].add_typer(child, name=path[-1])
                subgroups[path] = child
        subgroups[stage.group].command(
            stage.name,
            cls=stage_command_class(recipe, stage),
            context_settings=_PASSTHROUGH,
        )(_stage_callback(recipe, stage))
    return group


def _broken_command(entry: RecipeEntry) -> Any:
    def command() -> None:
        from kit_cli._runner import report_error
        from kit_cli.errors import RecipeLoadError

        error = RecipeLoadError(entry.name, entry.spec, entry.source, entry.error or "unknown")
        raise typer.Exit(report_error(error))

    command.__doc__ = f"[BROKEN] {entry.error} (from {entry.source}: {entry.spec})"
    return command


def build_app(
    entries: list[RecipeEntry] | None = None, *, kit_commands: bool = True
) -> typer.Typer:
    """The `nemotron` app over `entries` (default: every discovered recipe).

    `kit_commands=False` leaves out `art/job/env/runs/rerun` (a recipe command line never
    reaches them, and their modules cost start-up time).
    """

    app = typer.Typer(
        name="nemotron",
        help="Nemotron Kit: run recipe stages locally or on a cluster, with full lineage.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )
    for entry in discover_recipes() if entries is None else entries:
        if entry.recipe is not None:
            app.add_typer(
                _recipe_group(entry.recipe), name=entry.name, rich_help_panel="Recipes"
            )
        else:
            app.command(
                entry.name,
                rich_help_panel="Recipes",
                context_settings=_PASSTHROUGH,
                add_help_option=False,
            )(_broken_command(entry))
    if kit_commands:
        from kit_cli._commands import add_kit_commands

        add_kit_commands(app)
    return app
