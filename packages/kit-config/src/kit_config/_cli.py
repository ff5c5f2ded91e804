"""`cli(Config)`: the one-call entry of a recipe script.

    python train.py --config train.yaml train.lr=3e-4 +tags=[a,b]

`--config/-c PATH` picks the file (default: the `config_file` argument, else the class
defaults); every other argument is an override in Hydra's grammar, in any position;
`--help` lists every key of the config class with its type, default and help text
(`metadata={"help": ...}` on the attrs field or dataclass field). Any kit error is printed
as one line on stderr (plus a caret excerpt for syntax errors) and exits non-zero.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from kit_config._converter import type_name
from kit_config._structure import plain_value
from kit_config._validate import is_config
from kit_config.errors import KitError, OverrideError

__all__ = ["cli", "defaults_of", "render_help"]

T = TypeVar("T")

_MISSING = "???"


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    type: Any
    default: Any  # _MISSING when required
    help: str


def _fields(cls: Any) -> list[_Field]:
    import attrs

    hints = typing.get_type_hints(cls)
    out: list[_Field] = []
    if attrs.has(cls):
        for a in attrs.fields(cls):
            if a.default is attrs.NOTHING:
                default: Any = _MISSING
            elif isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                factory: Any = a.default.factory
                default = _MISSING if a.default.takes_self else factory()
            else:
                default = a.default
            name = a.alias or a.name
            out.append(_Field(name, hints.get(a.name, a.type), default, a.metadata.get("help", "")))
    elif dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = _MISSING
            out.append(
                _Field(f.name, hints.get(f.name, f.type), default, f.metadata.get("help", ""))
            )
    return out


def defaults_of(cls: Any) -> dict[str, Any]:
    """The config a class describes by itself: defaults, `???` for required fields.

    A required nested config class becomes its own defaults, so that its keys can be set
    one by one from the command line.
    """
    out: dict[str, Any] = {}
    for f in _fields(cls):
        if f.default == _MISSING and is_config(f.type):
            out[f.name] = defaults_of(f.type)
        else:
            out[f.name] = plain_value(f.default)
    return out


def _walk_help(cls: Any, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    for f in _fields(cls):
        path = f"{prefix}{f.name}"
        if is_config(f.type):
            yield path, f.type.__name__, "", f.help
            yield from _walk_help(f.type, path + ".")
            continue
        if f.default == _MISSING:
            default = "required"
        else:
            shown = repr(plain_value(f.default))
            default = f"default: {shown if len(shown) < 40 else shown[:37] + '...'}"
        yield path, type_name(f.type), default, f.help


def render_help(cls: Any, prog: str, config_file: str | os.PathLike[str] | None) -> str:
    """The `--help` text: usage, options, and every config key with type/default/help."""
    doc = (cls.__doc__ or "").strip().splitlines()
    lines = [f"usage: {prog} [--config PATH] [OVERRIDE ...]", ""]
    if doc and not doc[0].startswith(cls.__name__ + "("):
        lines += [doc[0], ""]
    default_file = f" (default: {config_file})" if config_file else ""
    lines += [
        "options:",
        "  -h, --help            show this help and exit",
        f"  -c, --config PATH     config file: YAML, TOML or JSON{default_file}",
        "",
        "overrides (Hydra grammar): key=value  +new.key=value  ++key=value  ~key",
        "",
        f"config keys ({cls.__name__}):",
    ]
    rows = list(_walk_help(cls))
    width = min(max((len(r[0]) for r in rows), default=0), 32)
    for path, tname, default, help_text in rows:
        extra = "  ".join(x for x in (tname, default, help_text) if x)
        lines.append(f"  {path:<{width}}  {extra}")
    return "\n".join(lines) + "\n"


def _split_argv(argv: Sequence[str]) -> tuple[str | None, list[str], bool]:
    """Return (config path or None, overrides, help requested)."""
    config: str | None = None
    overrides: list[str] = []
    want_help = False
    it = iter(argv)
    only_overrides = False
    for arg in it:
        if only_overrides:
            overrides.append(arg)
        elif arg == "--":
            only_overrides = True
        elif arg in ("-h", "--help"):
            want_help = True
        elif arg in ("-c", "--config"):
            config = next(it, None)
            if config is None or not config:
                raise OverrideError(
                    f"{arg} needs a file path", override=arg, hint=f"write {arg} PATH"
                )
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        elif arg.startswith("-c") and len(arg) > 2:
            config = arg[2:]
        elif arg.startswith("-"):
            raise OverrideError(
                f"unknown option {arg!r}",
                override=arg,
                hint="options are --config/-c and --help; everything else is KEY=VALUE",
            )
        else:
            overrides.append(arg)
    return config, overrides, want_help


def _report(err: KitError, stream: TextIO) -> None:
    stream.write(f"error: {err}\n")
    excerpt = getattr(err, "excerpt", None)
    if excerpt:
        stream.write(excerpt + "\n")


def cli(
    config_cls: type[T],
    config_file: str | os.PathLike[str] | None = None,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    provenance_dir: str | os.PathLike[str] | None = None,
) -> T:
    """Parse `argv` (default `sys.argv[1:]`), compose, and return a typed `config_cls`.

    With `provenance_dir`, the composition's provenance is saved there once it is valid.
    A kit error exits with its `exit_code` after one line on stderr; `--help` exits 0.
    """
    from kit_config._compose import compose
    from kit_config._structure import structure

    args = list(sys.argv[1:] if argv is None else argv)
    name = prog or Path(sys.argv[0]).name or "recipe"
    try:
        chosen, overrides, want_help = _split_argv(args)
        if want_help:
            sys.stdout.write(render_help(config_cls, name, config_file))
            raise SystemExit(0)
        path = chosen if chosen is not None else config_file
        cfg = compose(path, overrides, schema=config_cls)
        result = structure(cfg, config_cls)
        if provenance_dir is not None:
            from kit_config._provenance import save_provenance

            save_provenance(provenance_dir, config=cfg, overrides=overrides, argv=args)
    except KitError as err:
        _report(err, sys.stderr)
        raise SystemExit(err.exit_code) from None
    return result
