"""cli(): `--config`, overrides anywhere, generated `--help`, one-line errors and exit codes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from kit_config import cli, load_provenance

Write = Callable[[str, str], Path]


@attrs.define
class Train:
    """Training settings."""

    lr: float = attrs.field(default=0.1, metadata={"help": "learning rate"})
    steps: int = 10


@dataclasses.dataclass
class Config:
    """Pretrain a small model."""

    train: Train
    name: str = dataclasses.field(metadata={"help": "run name"})
    out: Path | None = None


def test_config_file_and_overrides_anywhere(write: Write) -> None:
    """`--config` may come before, between or after overrides; all of them apply."""
    path = write("c.yaml", "train: {lr: 1.0}\nname: a\n")
    for argv in (
        ["--config", str(path), "train.lr=2", "name=b"],
        ["train.lr=2", "-c", str(path), "name=b"],
        ["train.lr=2", "name=b", f"--config={path}"],
    ):
        cfg = cli(Config, argv=argv)
        assert (cfg.train.lr, cfg.name, cfg.train.steps) == (2.0, "b", 10)


def test_default_config_file_argument(write: Write) -> None:
    """The `config_file` argument is used when `--config` is not given."""
    path = write("c.yaml", "train: {lr: 3}\nname: x\n")
    assert cli(Config, config_file=path, argv=[]).train.lr == 3.0


def test_without_file_starts_from_class_defaults() -> None:
    """With no file, the class defaults are the config: nested keys can be set directly."""
    cfg = cli(Config, argv=["name=solo", "train.steps=5"])
    assert cfg == Config(train=Train(lr=0.1, steps=5), name="solo")


def test_double_dash_ends_options(write: Write) -> None:
    """After `--`, everything is an override (even if it starts with '-')."""
    with pytest.raises(SystemExit):
        cli(Config, argv=["--", "--config"])


def test_help_lists_fields_types_defaults_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` shows every key (nested too) with type, default and help text; exits 0."""
    with pytest.raises(SystemExit) as info:
        cli(Config, argv=["--help"], prog="train.py")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: train.py [--config PATH] [OVERRIDE ...]")
    assert "Pretrain a small model." in out
    assert "train.lr" in out and "float" in out and "default: 0.1" in out and "learning rate" in out
    assert "name" in out and "required" in out and "run name" in out
    assert "Path | None" in out or "Optional[Path]" in out


BAD = [
    pytest.param("a: [1\n", [], "invalid YAML", id="malformed-yaml"),
    pytest.param("", [], "empty", id="empty-file"),
    pytest.param("- 1\n", [], "top level must be a mapping", id="top-level-list"),
    pytest.param(
        "train: {lr: 1}\nname: a\n",
        ["trian.lr=1"],
        "did you mean 'train.lr'",
        id="unknown-override-key",
    ),
    pytest.param(
        "train: {lr: 1}\nname: a\n",
        ["train.lr=[1,2"],
        "malformed override",
        id="malformed-override",
    ),
    pytest.param("train: {lr: 1}\nname: a\n", ["train.lr=1,2"], "sweep", id="sweep"),
    pytest.param(
        "train: {lr: x}\nname: a\n", [], "expected float, got 'x' @ train.lr", id="type-mismatch"
    ),
    pytest.param(
        "train: {lr: 1}\nname: ???\n", [], "missing required value", id="missing-required"
    ),
    pytest.param(
        "train: {lr: 1}\nname: ${nope}\n", [], "cannot resolve ${nope}", id="unresolvable"
    ),
    pytest.param(
        "train: {lr: 1}\nname: ${nores:1}\n", [], "unknown resolver 'nores'", id="unknown-resolver"
    ),
    pytest.param("train: {lr: 1}\nname: a\n", ["--verbose"], "unknown option", id="unknown-option"),
]


@pytest.mark.parametrize(("text", "overrides", "fragment"), BAD)
def test_bad_input_exits_2_with_one_line(
    write: Write, capsys: pytest.CaptureFixture[str], text: str, overrides: list[str], fragment: str
) -> None:
    """Each bad input exits with code 2 and one `error:` line on stderr, nothing on stdout."""
    path = write("c.yaml", text)
    with pytest.raises(SystemExit) as info:
        cli(Config, argv=["-c", str(path), *overrides])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first, *rest = captured.err.splitlines()
    assert first.startswith("error: ") and fragment in first
    assert all(line.startswith(("  ", "      |")) for line in rest)  # only a caret excerpt


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing `--config` file exits 2 naming the path."""
    with pytest.raises(SystemExit) as info:
        cli(Config, argv=["--config", str(tmp_path / "gone.yaml")])
    assert info.value.code == 2
    assert "gone.yaml" in capsys.readouterr().err


def test_config_option_without_value(capsys: pytest.CaptureFixture[str]) -> None:
    """`--config` at the end of argv, with no path, is a usage error."""
    with pytest.raises(SystemExit) as info:
        cli(Config, argv=["--config"])
    assert info.value.code == 2
    assert "needs a file path" in capsys.readouterr().err


def test_provenance_dir_written_only_on_success(write: Write, tmp_path: Path) -> None:
    """With provenance_dir, a valid run saves provenance; an invalid one writes nothing."""
    path = write("c.yaml", "train: {lr: 1}\nname: a\n")
    bad_dir = tmp_path / "bad"
    with pytest.raises(SystemExit):
        cli(Config, argv=["-c", str(path), "train.lr=x"], provenance_dir=bad_dir)
    assert not bad_dir.exists()
    good_dir = tmp_path / "good"
    cli(Config, argv=["-c", str(path), "train.lr=2"], provenance_dir=good_dir)
    prov = load_provenance(good_dir)
    assert prov.overrides == ("train.lr=2",) and prov.config["train"]["lr"] == 2


def test_real_script_subprocess(tmp_path: Path) -> None:
    """A script using cli() runs as a process: exit 0 on success, 2 and one line on error."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import dataclasses
            from kit_config import cli

            @dataclasses.dataclass
            class Config:
                lr: float = 0.1
                name: str = "x"

            if __name__ == "__main__":
                cfg = cli(Config)
                print(f"lr={cfg.lr} name={cfg.name}")
            """
        )
    )
    env = dict(os.environ)
    ok = subprocess.run(
        [sys.executable, str(script), "lr=0.5", "name=run"], env=env, capture_output=True, text=True
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "lr=0.5 name=run")
    bad = subprocess.run(
        [sys.executable, str(script), "lrr=0.5"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "did you mean 'lr'" in bad.stderr and "Traceback" not in bad.stderr
