"""Start-up time of `nemotron --help` and `nemotron nano3 pretrain --help`.

Compared in the same run, same interpreter, against (a) a bare Typer app with the same
command tree (target: kit <= 1.3x of it) and (b) a script that imports nemo_run and wandb
first, like the earlier kit (target: kit >= 10x faster). The recipe is the real nano3 one
when `nano3.recipe` is importable (source root `recipes/`), else a demo with the same tree.
Kit and bare runs alternate so that load from other processes hits both alike. Run:
`python bench/cli_start.py [--repeat N]`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """
from kit_cli.recipe import Recipe, Stage
RECIPE = Recipe("nano3", "Demo recipe.", [
    Stage("pretrain", "json.tool", "Pretrain.", {cfg!r}),
    Stage("sft", "json.tool", "SFT.", {cfg!r}),
    Stage("rl", "json.tool", "RL.", {cfg!r}),
    Stage("pretrain", "json.tool", "Prep.", {cfg!r}, group=("data", "prep")),
    Stage("sft", "json.tool", "Prep.", {cfg!r}, group=("data", "prep")),
    Stage("rl", "json.tool", "Prep.", {cfg!r}, group=("data", "prep")),
])
"""

KIT = "import sys; from kit_cli.main import main; main(sys.argv[1:])"

BARE = """
import sys, typer
app = typer.Typer(name="nemotron", no_args_is_help=True)
demo = typer.Typer(help="Demo recipe.")
def stage(config: str = typer.Option(None, "-c"), run: str = typer.Option(None, "-r"),
          batch: str = typer.Option(None, "-b"), dry_run: bool = typer.Option(False, "-d"),
          dry_run_out: str = typer.Option(None, "--dry-run-out"),
          overrides: list[str] = typer.Argument(None)):
    "A stage."
for name in ("pretrain", "sft", "rl"):
    demo.command(name)(stage)
data = typer.Typer(); prep = typer.Typer()
for name in ("pretrain", "sft", "rl"):
    prep.command(name)(stage)
data.add_typer(prep, name="prep"); demo.add_typer(data, name="data")
app.add_typer(demo, name="nano3")
for group in ("art", "job", "env", "runs"):
    sub = typer.Typer()
    for cmd in ("ls", "show"):
        sub.command(cmd)(lambda: None)
    app.add_typer(sub, name=group)
app.command("rerun")(lambda run_id: None)
app(sys.argv[1:], prog_name="nemotron")
"""

OLD = "import nemo_run, wandb\n" + BARE


def once(code: str, argv: list[str], env: dict[str, str]) -> float:
    """Wall time in seconds of one `python -c code argv`."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *argv], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(codes: list[str], argv: list[str], env: dict[str, str], repeat: int
            ) -> list[float]:
    """Median wall time of each code, the codes run in turn `repeat` times."""
    times: list[list[float]] = [[] for _ in codes]
    for _ in range(repeat):
        for index, code in enumerate(codes):
            times[index].append(once(code, argv, env))
    return [statistics.median(t) for t in times]


def _recipe_spec(tmp: str) -> str:
    import importlib.util

    try:
        if importlib.util.find_spec("nano3.recipe") is not None:
            return "nano3.recipe:RECIPE"
    except ImportError:
        pass
    (Path(tmp) / "bench_recipe.py").write_text(RECIPE.format(cfg=tmp))
    return "bench_recipe:RECIPE"


def main() -> None:
    """Print the medians and the two ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        spec = _recipe_spec(tmp)
        print(f"recipe: {spec}")
        env = {
            **os.environ,
            "NEMOTRON_HOME": tmp,
            "NEMOTRON_ENV_FILE": str(Path(tmp) / "none.toml"),
            "NEMOTRON_RECIPES": spec,
            "PYTHONPATH": os.pathsep.join(
                [tmp, *[str(Path(p).resolve()) for p in sys.path if p]]
            ),
        }
        for argv in (["--help"], ["nano3", "pretrain", "--help"]):
            kit, bare = measure([KIT, BARE], argv, env, repeat)
            (old,) = measure([OLD], argv, env, max(3, repeat // 2))
            label = "nemotron " + " ".join(argv)
            print(f"{label:34s} kit {kit * 1000:7.1f} ms | bare typer {bare * 1000:7.1f} ms "
                  f"| kit/bare {kit / bare:4.2f}x (target <= 1.3) "
                  f"| import-nemo_run+wandb {old * 1000:7.1f} ms, {old / kit:5.1f}x faster "
                  "(target >= 10)")


if __name__ == "__main__":
    main()
