"""Stage commands for Typer: raw-argv capture for the one parser, and rich help panels.

The panels follow the earlier kit's help screen: built-in configs, env.toml profiles,
artifact inputs of the stage, run overrides and examples, each in a bordered box below
Typer's own usage and options.
"""
from __future__ import annotations

from typing import Any, ClassVar

from typer.core import TyperCommand

from kit_cli.recipe import Recipe, Stage

__all__ = ["RAW_ARGS_KEY", "StageCommand", "example_override", "stage_command_class"]

RAW_ARGS_KEY = "kit_cli.raw_args"


class StageCommand(TyperCommand):
    """A Typer command that keeps the raw argv (with its `--` tail) and adds help panels."""

    recipe: ClassVar[Recipe]
    stage: ClassVar[Stage]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Keep the untouched argv for `run_stage`; let Typer see only what precedes `--`."""
        ctx.meta[RAW_ARGS_KEY] = list(args)
        head = args[: args.index("--")] if "--" in args else args
        result: list[str] = super().parse_args(ctx, head)
        return result

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Typer's help, then the kit's panels."""
        super().format_help(ctx, formatter)
        from rich.console import Console

        console = Console(highlight=False)
        for panel in stage_panels(self.recipe, self.stage):
            console.print(panel)


def stage_command_class(recipe: Recipe, stage: Stage) -> type[StageCommand]:
    """A `StageCommand` subclass bound to one stage (Typer instantiates the class itself)."""
    return type(
        f"StageCommand_{recipe.name}_{stage.name}",
        (StageCommand,),
        {"recipe": recipe, "stage": stage},
    )


def _panel(title: str, rows: list[tuple[str, str]]) -> Any:
    from rich.panel import Panel
    from rich.table import Table

    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for left, right in rows:
        table.add_row(left, right)
    return Panel(table, title=title, title_align="left", border_style="dim")


def example_override(stage: Stage) -> str:
    """`KEY=VALUE` for the stage's first integer setting at its default (valid by construction).

    Read from the class's fields (no OmegaConf: a stage's --help must stay fast).
    """
    try:
        schema = stage.config_class()
    except Exception:  # --help must not fail on a broken registration
        schema = None
    found = _first_number(schema, "") if schema is not None else None
    return found or "key.path=value"


def _first_number(obj: Any, prefix: str) -> str | None:
    """The first integer leaf of a config class (its defaults) or instance (its values)."""
    import dataclasses

    import attrs

    cls = obj if isinstance(obj, type) else type(obj)
    if attrs.has(cls):
        names = [(f.name, f.default) for f in attrs.fields(cls)]
    elif dataclasses.is_dataclass(cls):
        names = [(f.name, f.default_factory() if f.default_factory is not dataclasses.MISSING
                  else f.default) for f in dataclasses.fields(cls)]
    else:
        return None
    for name, default in names:
        value = default if isinstance(obj, type) else getattr(obj, name)
        if isinstance(value, attrs.Factory) and not value.takes_self:  # type: ignore[arg-type]
            value = value.factory()
        # An integer: floats (lr, min_lr) tend to be tied to other keys a file may change.
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{prefix}{name}={value}"
        if attrs.has(type(value)) or dataclasses.is_dataclass(value):
            found = _first_number(value, f"{prefix}{name}.")
            if found:
                return found
    return None


def stage_panels(recipe: Recipe, stage: Stage) -> list[Any]:
    """The extra help panels of one stage."""
    from kit_cli._profiles import profile_summaries

    words = " ".join((recipe.name, *stage.command_path))
    configs = [(name, f"-c {name}") for name in stage.config_names()]
    profiles = list(profile_summaries().items())
    inputs = [(ref, "pinned to an exact version before the run") for ref in stage.inputs]
    first_config = stage.config_names()[0] if stage.config_names() else "CONFIG"
    first_profile = profiles[0][0] if profiles else "PROFILE"
    return [
        _panel(f"Configs ({stage.config_dir or 'none'})", configs or [("(none)", "")]),
        _panel("Profiles (env.toml)", profiles or [("(none)", "no env.toml found")]),
        _panel("Artifact inputs", inputs or [("(none)", "")]),
        _panel(
            "Run overrides",
            [
                ("key.path=value", "set a value (any position)"),
                ("+key=value", "add a key that the config lacks"),
                ("~key", "delete a key"),
            ],
        ),
        _panel(
            "Examples",
            [
                (f"nemotron {words} -c {first_config}", "run locally"),
                (f"nemotron {words} -c {first_config} -d", "show what would run"),
                (f"nemotron {words} -r {first_profile} {example_override(stage)}",
                 "run attached"),
                (f"nemotron {words} -b {first_profile}", "submit and detach"),
            ],
        ),
    ]
