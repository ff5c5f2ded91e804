"""Every command line shown in the README and the package READMEs works as written.

Each shell line of a README code block is either run here (stage commands in dry-run mode
where they would train or submit: `--dry-run` is added, nothing else changes) or named in
`RUN_ELSEWHERE` with the file that runs it in CI, which must contain it. A new README command
that neither runs here nor is listed fails the test, so examples cannot silently rot.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = next((p for p in Path(__file__).resolve().parents if (p / "packages").is_dir()),
            Path.cwd())  # Pants runs tests in a sandbox whose root holds the declared files
READMES = sorted([ROOT / "README.md", *ROOT.glob("packages/*/README.md"),
                  *ROOT.glob("recipes/**/README.md")])
SHELL_BLOCKS = ("bash", "sh", "shell", "console", "")
COMMAND = re.compile(r"^(\./pants |nemotron |python |pip |PYTHONPATH=)")

# Commands CI runs itself: the command -> (file that runs it, text that file must hold).
RUN_ELSEWHERE = {
    "./pants run recipes/nano3:pipeline":
        ("tests/test_nano3_pipeline/test_pipeline.py", '"-m", "nano3.pipeline"'),
    "./pants lint check test package ::": (".ci/run", "lint check test package ::"),
    "./pants package packages/::": (".ci/run", "lint check test package ::"),
    "pip install --find-links dist/ kit-artifacts": (".ci/check-wheels", "--find-links"),
    "pip install --find-links dist/ kit-config": (".ci/check-wheels", "--find-links"),
    "pip install --find-links dist/ kit-track": (".ci/check-wheels", "--find-links"),
    "pip install --find-links dist/ nemotron-kit": (".ci/check-wheels", "--find-links"),
    "pip install --find-links dist/ nano3": (".ci/check-wheels", "--find-links"),
    'pip install --find-links dist/ "nano3[data]"': (".ci/check-wheels", '"${wheel}[data]"'),
    "pip install dist/kit_artifacts-0.1.0-py3-none-any.whl --find-links dist/":
        (".ci/check-wheels", "--find-links"),
    # The test command of one package, as `./pants test` runs it (same files, same roots).
    "PYTHONPATH=$(ls -d packages/*/src | tr '\\n' ':')recipes:tests:bench python -m pytest -q "
    "tests/test_kit_cli": (".ci/run", "lint check test package ::"),
    # Benchmarks: timed by hand on an idle machine, not in CI.
    "python bench/cli_start.py --repeat 7": ("bench/cli_start.py", "--repeat"),
    "python bench/report_render.py --repeat 5": ("bench/report_render.py", "--repeat"),
}
# The kit-config README's own example script, run here with its own command lines.
KIT_CONFIG_EXAMPLE = ("python train.py ",)


def shown_commands() -> list[tuple[str, int, str]]:
    """`(readme, line, command)` for each shell command line in the READMEs' code blocks."""
    found = []
    for readme in READMES:
        block: str | None = None
        for number, line in enumerate(readme.read_text().splitlines(), 1):
            if line.startswith("```"):
                block = line[3:].strip() if block is None else None
                continue
            text = re.split(r"\s#(?:\s|$)", line, maxsplit=1)[0].strip()
            if block in SHELL_BLOCKS and COMMAND.match(text):
                found.append((str(readme.relative_to(ROOT)), number, text))
    return found


COMMANDS = shown_commands()
# The children run in a temporary folder: Pants puts relative source roots on sys.path.
CHILD_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path)


def test_the_readmes_show_commands() -> None:
    """The scan finds the README's two set-up commands (so an empty scan cannot pass)."""
    shown = {command for _, _, command in COMMANDS}
    assert {"./pants run recipes/nano3:pipeline", "./pants lint check test package ::"} <= shown


def _stage_argv(command: str) -> tuple[str, list[str]] | None:
    """How a stage command launches (`nemotron` or `pants run`) and its arguments; else None.

    `nemotron` gets its whole argv; a `pants run recipes/nano3:<stage>` launcher gets the stage
    name and the words after `--`, as the launcher target hands them to `nano3.launch.main`.
    """
    words = shlex.split(command)
    if words[0] == "nemotron":
        return "nemotron", words[1:]
    target = re.fullmatch(r"recipes/nano3:([\w-]+)", words[2]) if words[:2] == ["./pants", "run"] \
        else None
    if target is None or target.group(1) == "pipeline":
        return None
    return "pants run", [target.group(1), *(words[4:] if words[3:4] == ["--"] else words[3:])]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A NEMOTRON_HOME with stand-ins for the tiny inputs, an env.toml `my-cluster` profile."""
    from test_nano3_pipeline.conftest import publish_tiny_stand_ins

    home = tmp_path / "home"
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    publish_tiny_stand_ins(tmp_path / "inputs")
    env_toml = tmp_path / "env.toml"  # dry runs only render a Slurm job; nothing contacts it
    env_toml.write_text('[my-cluster]\nexecutor = "slurm"\ntunnel = "local"\n'
                        'account = "kit"\npartition = "debug"\n')
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env_toml))
    monkeypatch.setenv("NEMOTRON_RECIPES", "nano3.recipe:RECIPE")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    return home


STAGE_COMMANDS = [pytest.param(c, id=f"{r}:{n}") for r, n, c in COMMANDS if _stage_argv(c)]


@pytest.mark.parametrize("command", STAGE_COMMANDS)
def test_stage_command_runs_as_written(home: Path, command: str) -> None:
    """A stage command shown in a README is accepted (as a dry run: nothing trains or queues)."""
    how, argv = _stage_argv(command)  # type: ignore[misc]
    if not {"-d", "--dry-run", "--dry-run-out"} & set(argv):
        argv.append("--dry-run")
    code = {"nemotron": "import sys; from kit_cli.main import main; main(sys.argv[1:])",
            "pants run": "import sys; from nano3.launch import main; main(sys.argv[1:])"}[how]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": CHILD_PYTHONPATH})
    assert proc.returncode == 0, f"{command!r} was refused:\n{proc.stderr[-2000:]}"
    assert "# dry run:" in proc.stdout


def test_kit_config_example_runs_with_its_command_lines(tmp_path: Path) -> None:
    """kit-config's README script runs with the command lines the README shows for it."""
    readme = (ROOT / "packages/kit-config/README.md").read_text()
    script = re.search(r"```python\n(import attrs\n.*?cfg = cli\(.*?\n)```", readme, re.S)
    assert script is not None, "the README's cli() example moved: update this test"
    (tmp_path / "train.py").write_text(script.group(1) + "print(cfg)\n")
    (tmp_path / "pretrain.yaml").write_text("train:\n  lr: 3e-4\n  steps: 10\ndata: /data\n")
    shown = [c for _, _, c in COMMANDS if c.startswith(KIT_CONFIG_EXAMPLE)]
    assert shown, "the README shows no command line for its example"
    for command in shown:
        proc = subprocess.run(shlex.split(command), cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, check=False,
                              env={**os.environ, "PYTHONPATH": CHILD_PYTHONPATH,
                                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                           f"{os.environ.get('PATH', '')}"})
        assert proc.returncode == 0, f"{command!r} failed:\n{proc.stderr[-2000:]}"


def test_every_other_command_is_run_by_ci() -> None:
    """A command not run above is listed with the CI file that runs it, which holds it."""
    for readme, number, command in COMMANDS:
        if _stage_argv(command) or command.startswith(KIT_CONFIG_EXAMPLE):
            continue
        assert command in RUN_ELSEWHERE, (
            f"{readme}:{number}: {command!r} is neither run by this test nor listed in "
            "RUN_ELSEWHERE with the CI file that runs it")
        where, marker = RUN_ELSEWHERE[command]
        assert marker in (ROOT / where).read_text(), f"{where} no longer runs {command!r}"
