"""env.toml: discovery, reserved tables, `extends` chains and validated profiles.

Found at `$NEMOTRON_ENV_FILE`, or in the current directory or a parent up to the repository
root. Reserved tables (`wandb`, `artifacts`, `cli`) configure the kit; every other table is
an execution profile selected with `--run NAME` / `--batch NAME`.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from kit_config import closest, find_env_file
from kit_run._profiles import RESERVED_TABLES, SCHEMA_VERSION, known_keys, validate_profile
from kit_run.errors import (
    EnvFileError,
    EnvFileNotFoundError,
    ProfileError,
    ProfileKeyError,
    ProfileNotFoundError,
    ProfileProblem,
)

__all__ = [
    "ENV_FILE_NAME",
    "EnvFile",
    "Profile",
    "find_env_file",
    "list_profiles",
    "load_env_file",
    "load_env_profile",
    "profile_from_mapping",
]

ENV_FILE_NAME = "env.toml"
_MERGED_TABLES = frozenset({"env_vars"})  # tables merged key by key along `extends`


@attrs.frozen
class Profile(Mapping[str, Any]):
    """A validated execution profile: `extends` applied, every key checked against its schema.

    `settings` holds every key the user set (after inheritance) except `extends`;
    `chain` is the inheritance chain, the profile itself first. A profile reads like the
    mapping of its settings (`profile["nodes"]`, `"nodes" in profile`, iteration over the
    keys set); asking for a key that no executor has (a typo) is a `ProfileKeyError`.
    """

    name: str
    executor: str
    settings: Mapping[str, Any]
    chain: tuple[str, ...] = ()
    file: str | None = None
    schema_version: int = SCHEMA_VERSION

    def get(self, key: str, default: Any = None) -> Any:
        """Return a setting, or `default` when the profile does not set it."""
        self._check_key(key)
        return self.settings.get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._check_key(key)
        if key not in self.settings:
            raise ProfileKeyError(f"profile {self.name!r} does not set {key!r}", profile=self.name,
                                  key=key, hint=f"set {key} in [{self.name}] of {self.file}, "
                                  "or read it with .get(key, default)")
        return self.settings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def __len__(self) -> int:
        return len(self.settings)

    def _check_key(self, key: str) -> None:
        known = known_keys(None)
        if key not in known:
            near = closest(key, known)
            raise ProfileKeyError(
                f"{key!r} is not a profile key of any executor", profile=self.name, key=key,
                hint=f"did you mean {near!r}?" if near else "see kit-run's README for the keys")

    @property
    def tunnel(self) -> str:
        """How a Slurm profile reaches the cluster: `local` (default) or `ssh`."""
        return str(self.settings.get("tunnel", "local"))


@attrs.frozen
class EnvFile:
    """A parsed env.toml: its reserved tables and its raw (not yet validated) profiles."""

    path: Path
    profiles: Mapping[str, Mapping[str, Any]]
    text: str = ""  # the file's text, to point problems at their line
    wandb: Mapping[str, Any] = attrs.field(factory=dict)
    artifacts: Mapping[str, Any] = attrs.field(factory=dict)
    cli: Mapping[str, Any] = attrs.field(factory=dict)


def load_env_file(path: str | Path | None = None) -> EnvFile:
    """Read and parse env.toml (found by `find_env_file` when `path` is None)."""
    found = Path(path) if path is not None else find_env_file()
    if found is None:
        raise EnvFileNotFoundError(
            f"no {ENV_FILE_NAME} found from {Path.cwd()} up to the repository root",
            searched=(str(Path.cwd()),),
            hint="create one (see kit-run's README) or set NEMOTRON_ENV_FILE")
    if not found.is_file():
        raise EnvFileNotFoundError(f"env file {found} does not exist", searched=(str(found),),
                                   hint="fix the path or NEMOTRON_ENV_FILE")
    text = found.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise EnvFileError(f"{found}:{line or '?'}: invalid TOML: {exc}", file=str(found),
                           line=line, hint="fix the TOML syntax there") from None
    profiles: dict[str, Mapping[str, Any]] = {}
    reserved: dict[str, Mapping[str, Any]] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise EnvFileError(
                f"{found}: top-level key {key!r} is not a table; every profile is a [table]",
                file=str(found), line=_key_line(text, [""], key),
                hint=f"move it into a profile table, e.g. [{key}-profile]")
        (reserved if key in RESERVED_TABLES else profiles)[key] = value
    return EnvFile(path=found, profiles=profiles, text=text, wandb=reserved.get("wandb", {}),
                   artifacts=reserved.get("artifacts", {}), cli=reserved.get("cli", {}))


def _key_line(text: str, tables: list[str], key: str) -> int | None:
    """The line setting `key` in the first of `tables` (the chain; "" = top level) setting it."""
    lines = text.splitlines()
    for table in tables:
        inside = table == ""
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                inside = stripped.strip("[] ").strip('"') == table
            elif inside and re.match(rf'"?{re.escape(key)}"?\s*=', stripped):
                return number
    return None


def list_profiles(path: str | Path | None = None) -> list[str]:
    """Return the sorted names of the profiles (non-reserved tables) in env.toml."""
    return sorted(load_env_file(path).profiles)


def load_env_profile(name: str, path: str | Path | None = None) -> Profile:
    """Load profile `name` from env.toml, apply its `extends` chain and validate it."""
    return _resolve(load_env_file(path), name)


def profile_from_mapping(name: str, settings: Mapping[str, Any],
                         file: str | None = None) -> Profile:
    """Validate a profile given as a mapping (no `extends`): for programmatic callers."""
    return _resolve(EnvFile(path=Path(file or "<memory>"), profiles={name: dict(settings)}),
                    name)


def _resolve(env: EnvFile, name: str) -> Profile:
    file = str(env.path)
    if name in RESERVED_TABLES:
        raise ProfileNotFoundError(
            f"{name!r} is a reserved table of {file}, not a profile; known profiles: "
            + (", ".join(sorted(env.profiles)) or "(none)"),
            profile=name, known=sorted(env.profiles), file=file)
    if name not in env.profiles:
        suggestion = closest(name, env.profiles)
        raise ProfileNotFoundError(
            f"profile {name!r} not found in {file}; known profiles: "
            + (", ".join(sorted(env.profiles)) or "(none)"),
            profile=name, known=sorted(env.profiles), file=file,
            hint=f"did you mean {suggestion!r}?" if suggestion else "add a [" + name + "] table")
    chain = [name]
    merged: dict[str, Any] = {}
    layers = [env.profiles[name]]
    parent = env.profiles[name].get("extends")
    while parent is not None:
        if not isinstance(parent, str):
            raise ProfileError([ProfileProblem(chain[-1], "extends",
                                               f"expected a profile name, got {parent!r}")],
                               file=file)
        if parent in chain:
            cycle = " -> ".join([*chain, parent])
            raise ProfileError([ProfileProblem(chain[-1], "extends",
                                               f"cycle in extends chain: {cycle}")],
                               file=file, hint="remove one `extends` to break the cycle")
        if parent not in env.profiles:
            raise ProfileError([ProfileProblem(
                chain[-1], "extends", f"extends unknown profile {parent!r}",
                closest(parent, env.profiles))], file=file)
        chain.append(parent)
        layers.append(env.profiles[parent])
        parent = env.profiles[parent].get("extends")
    for layer in reversed(layers):  # base first, so the named profile wins
        for key, value in layer.items():
            if key == "extends":
                continue
            if key in _MERGED_TABLES and isinstance(value, dict) and isinstance(
                    merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    problems = validate_profile(name, merged)
    if problems:
        for problem in problems:
            problem.file = file
            problem.line = _key_line(env.text, chain, problem.key.split(".", 1)[0])
        raise ProfileError(problems, file=file)
    return Profile(name=name, executor=str(merged["executor"]), settings=merged,
                   chain=tuple(chain), file=file,
                   schema_version=int(merged.get("schema_version", SCHEMA_VERSION)))
