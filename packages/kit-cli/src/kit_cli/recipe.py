"""`Recipe` and `Stage`: what a recipe package registers with the `nemotron` CLI.

Import-light on purpose (stdlib dataclasses, not attrs): a recipe's registration module
imports only this, so that `nemotron --help` stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CONFIG_SUFFIXES", "Recipe", "Stage"]

# Config formats a stage's config folder may hold (kit-config reads each of them).
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")


def _tuple_of_str(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Stage:
    """One runnable step of a recipe: `python -m MODULE --config FILE` does its work.

    `config` names the stage's typed config class as `module:Class` (a string, so that
    listing stages imports no stage code); the CLI composes the class's defaults, the file
    and the overrides, and checks the result against the class before anything is written
    or submitted. `config_dir` holds the stage's built-in configs (`-c NAME` picks `NAME.yaml`);
    `group` nests the command (`("data", "prep")` -> `nemotron nano3 data prep NAME`);
    `job_target` is an optional PEX file shipped with remote jobs; `inputs` lists the
    artifact names or `art://` URIs the stage consumes (shown in `--help`).
    """

    name: str
    module: str
    help: str = ""
    config_dir: str | Path | None = None
    group: tuple[str, ...] = ()
    job_target: str | None = None
    inputs: tuple[str, ...] = ()
    config: str | None = None

    def __post_init__(self) -> None:
        # Accept lists (and a bare string) from registrations; store hashable tuples.
        object.__setattr__(self, "group", _tuple_of_str(self.group))
        object.__setattr__(self, "inputs", _tuple_of_str(self.inputs))

    @property
    def command_path(self) -> tuple[str, ...]:
        """The words after the recipe name that select this stage."""
        return (*self.group, self.name)

    def config_class(self) -> type | None:
        """The typed config class that `config` names (imported now), or None."""
        if self.config is None:
            return None
        import importlib

        from kit_cli.errors import RecipeLoadError

        module_name, _, attr = self.config.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise RecipeLoadError(self.name, self.config, f"stage {self.name} config",
                                  f"{type(exc).__name__}: {exc}") from None
        if not isinstance(found, type):
            raise RecipeLoadError(self.name, self.config, f"stage {self.name} config",
                                  "not a class")
        return found

    def config_names(self) -> list[str]:
        """Names of the built-in configs in `config_dir`, sorted."""
        if self.config_dir is None:
            return []
        folder = Path(self.config_dir)
        if not folder.is_dir():
            return []
        return sorted(
            p.stem for p in folder.iterdir() if p.is_file() and p.suffix in CONFIG_SUFFIXES
        )

    def resolve_config(self, name_or_path: str | None) -> Path | None:
        """The config file that `-c NAME|PATH` selects; `None` -> the `default` config if any.

        A name resolves in `config_dir` first (so `-c tiny` never picks up a stray
        `./tiny` file), then as a path.
        """
        from kit_cli.errors import ConfigNameError

        if name_or_path is None:
            return self._builtin("default")
        builtin = self._builtin(name_or_path)
        if builtin is not None:
            return builtin
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path.resolve()
        raise ConfigNameError(name_or_path, str(self.config_dir), self.config_names())

    def _builtin(self, name: str) -> Path | None:
        if self.config_dir is None or "/" in name or name.startswith("."):
            return None
        folder = Path(self.config_dir)
        candidates = [folder / name] if Path(name).suffix else []
        candidates += [folder / f"{name}{suffix}" for suffix in CONFIG_SUFFIXES]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        return None


@dataclass(frozen=True)
class Recipe:
    """A named set of stages, registered as one command group of `nemotron`."""

    name: str
    help: str
    stages: tuple[Stage, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))

    def stage(self, name: str) -> Stage:
        """The stage named `name` (its bare name or its space-joined command path)."""
        from kit_cli.errors import UnknownStageError

        for stage in self.stages:
            if name in (stage.name, " ".join(stage.command_path)):
                return stage
        raise UnknownStageError(self.name, name, [s.name for s in self.stages])
