"""The stage contract: every nano3 stage's config is checked against its typed class before
anything is written or queued (--dry-run, --run and --batch alike, and the pipeline's --batch).

The --run/--batch rows use the real local Slurm (`.ci/services/slurm-up`): they prove that
`squeue`/`sacct` gain no job; they skip with SERVICE-MISSING without it.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit_cli import run_stage
from nano3.recipe import RECIPE

from .conftest import publish_tiny_stand_ins, slurm_service

# Absolute, taken before any test changes directory: Pants puts relative roots on sys.path.
CHILD_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path)
TRAINING = ("pretrain", "sft", "rl")
DATA_PREP = ("data prep pretrain", "data prep sft", "data prep rl")

# (kind, override for training stages, for data prep, expected key path, message fragment)
PROBLEMS = [
    ("wrong-type", "optimizer.lr=abc", "shard_bytes=abc", "expected"),
    ("unknown-key", "trainer.max_stepz=3", "shard_byte=3", "did you mean"),
    ("missing-required", "~data", "~blend", "missing required"),
    ("semantic", "optimizer.lr=-1", "shard_bytes=0", "must be"),
]
MODES = {"dry-run": ["--dry-run"], "run": ["--run", "slurm"], "batch": ["--batch", "slurm"]}


def _key(override: str) -> str:
    return override.lstrip("~+").partition("=")[0]


CASES = [
    pytest.param(stage, mode, override, fragment,
                 id=f"{stage.replace(' ', '-')}-{kind}-{mode}")
    for mode in MODES
    for stage in (*TRAINING, *DATA_PREP)
    for kind, training, data, fragment in PROBLEMS
    for override in [training if stage in TRAINING else data]
]


def _tree(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in root.rglob("*"))


def _slurm_jobs(home: Path) -> set[str]:
    """IDs of the Slurm jobs, queued or accounted in the last hour, whose working directory
    lies under `home` (a job this test submits runs in `home/jobs/NAME`). Not every job:
    other tests submit jobs, and Slurm drops finished ones, while this one runs."""
    queued = subprocess.run(["squeue", "-h", "-o", "%i|%Z"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    accounted = subprocess.run(["sacct", "-X", "-n", "-P", "-a", "--format=JobID,WorkDir",
                                "-S", "now-1hour"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    rows = (line.partition("|") for line in (*queued, *accounted))
    return {job for job, _, workdir in rows
            if workdir == str(home) or workdir.startswith(f"{home}/")}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A NEMOTRON_HOME holding stand-ins for every tiny input, and an env.toml `slurm` profile."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    publish_tiny_stand_ins(tmp_path / "inputs")
    slurm = _slurm_profile()
    env_toml = tmp_path / "env.toml"
    if slurm is not None:
        env_toml.write_text(
            f'[slurm]\nexecutor = "slurm"\ntunnel = "local"\n'
            f'account = "{slurm["NEMOTRON_SLURM_ACCOUNT"]}"\n'
            f'partition = "{slurm["NEMOTRON_SLURM_PARTITION"]}"\ntime = "00:05:00"\n'
            f'[slurm.env_vars]\nNEMOTRON_HOME = "{home}"\n')
        monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env_toml))
    monkeypatch.chdir(tmp_path)
    yield home


def _slurm_profile() -> dict[str, str] | None:
    env_file = Path(os.environ.get("KIT_SERVICES_DIR", "/tmp/kit-services")) / "slurm.env"
    return slurm_service() if env_file.is_file() else None


@contextlib.contextmanager
def _nothing_written_or_queued(home: Path, remote: bool) -> Iterator[None]:
    before = _tree(home)
    jobs = _slurm_jobs(home) if remote else set()
    yield
    assert _tree(home) == before
    if remote:
        assert _slurm_jobs(home) == jobs


@pytest.mark.parametrize(("stage", "mode", "override", "fragment"), CASES)
def test_bad_config_exits_2_before_anything_is_written_or_queued(
        home: Path, capsys: pytest.CaptureFixture[str], stage: str, mode: str, override: str,
        fragment: str) -> None:
    """One line naming the key path, exit 2, $NEMOTRON_HOME unchanged, Slurm unchanged."""
    if mode != "dry-run":
        slurm_service()
    with _nothing_written_or_queued(home, mode != "dry-run"):
        code = run_stage(RECIPE, stage, ["-c", "tiny", *MODES[mode], override])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert f"@ {_key(override)}" in err[0] or f"'{_key(override)}'" in err[0], err[0]
    assert fragment in err[0]


def test_a_value_from_the_file_names_its_file_and_line(home: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("data: ${art:nano3-pretrain-data-tiny}\noptimizer:\n  lr: abc\n")
    with _nothing_written_or_queued(home, False):
        assert run_stage(RECIPE, "pretrain", ["-c", str(config), "--dry-run"]) == 2
    assert f"@ optimizer.lr ({config}:3)" in capsys.readouterr().err


@pytest.mark.parametrize("entry", ["nemotron", "run_stage"])
def test_the_command_lines_refuse_a_bad_value(home: Path, entry: str) -> None:
    """`nemotron nano3 pretrain ...` and `python -c run_stage(...)` (pants run) alike."""
    argv = ["-c", "tiny", "--dry-run", "optimizer.lr=abc"]
    code = ("import sys; from kit_cli.main import main; main(sys.argv[1:])"
            if entry == "nemotron" else
            "import sys; from kit_cli import run_stage; from nano3.recipe import RECIPE; "
            "sys.exit(run_stage(RECIPE, 'pretrain', sys.argv[1:]))")
    prefix = ["nano3", "pretrain"] if entry == "nemotron" else []
    env = {**os.environ, "NEMOTRON_RECIPES": "nano3.recipe:RECIPE", "PYTHONPATH": CHILD_PYTHONPATH}
    with _nothing_written_or_queued(home, False):
        proc = subprocess.run([sys.executable, "-c", code, *prefix, *argv], env=env,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "expected float, got 'abc' @ optimizer.lr (override 'optimizer.lr=abc')" in line


@pytest.mark.parametrize("stage", [*TRAINING, *DATA_PREP])
def test_schema_keys_need_no_plus_and_suggestions_work(home: Path, stage: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """A key the class has is settable though tiny.yaml omits it; a did-you-mean is accepted."""
    good = "trainer.resume=false" if stage in TRAINING else "parallel.merge_timeout_s=5.0"
    assert run_stage(RECIPE, stage, ["-c", "tiny", "--dry-run", good]) == 0
    assert good.replace("=", ": ").rsplit(".", 1)[-1] in capsys.readouterr().out
    typo = good.replace("=", "x=", 1)  # trainer.resumex=false
    assert run_stage(RECIPE, stage, ["-c", "tiny", "--dry-run", typo]) == 2
    err = capsys.readouterr().err
    suggested = re.search(r"; write (\S+)$", err.strip())
    assert suggested is not None, err
    assert suggested.group(1) == good
    assert run_stage(RECIPE, stage, ["-c", "tiny", "--dry-run", suggested.group(1)]) == 0


def test_resume_hint_of_a_finished_run_works(home: Path) -> None:
    """The measured bug: the stage's own advice `trainer.resume=false` is accepted on -c tiny."""
    assert run_stage(RECIPE, "pretrain", ["-c", "tiny", "--dry-run",
                                          "trainer.resume=false", "trainer.max_steps=7"]) == 0


def test_each_plan_composes_the_config_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kit_config

    calls: list[Any] = []
    real = kit_config.compose

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(kit_config, "compose", counting)
    assert run_stage(RECIPE, "pretrain", ["-c", "tiny", "--dry-run"]) == 0
    assert len(calls) == 1
    from nano3.pipeline import PIPELINE

    calls.clear()
    steps = PIPELINE.plan("tiny")
    assert len(calls) == len(steps) == 6
    assert [s.publishes for s in steps][-1] == "nano3-rl-model-tiny"


@pytest.mark.parametrize("mode", ["--batch", "--run", None])
def test_pipeline_refuses_a_bad_set_before_any_submission(
        home: Path, capsys: pytest.CaptureFixture[str], mode: str | None) -> None:
    """All six stages are checked first: a bad value for pretrain (the 4th) queues nothing."""
    from nano3.pipeline import PIPELINE

    remote = mode is not None
    if remote:
        slurm_service()
    where = [mode, "slurm"] if mode else []
    with _nothing_written_or_queued(home, remote):
        code = PIPELINE.main([*where, "--no-pex", "--set", "pretrain:optimizer.lr=abc",
                              "--set", "rl:grpo.reward=nope"])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "stage 'pretrain'" in line and "@ optimizer.lr" in line
    assert "stage 'rl'" in line and "@ grpo.reward" in line


@pytest.mark.parametrize("stage", [*TRAINING, *DATA_PREP])
def test_the_help_example_override_is_accepted(home: Path, stage: str) -> None:
    """The override `--help` shows for a stage comes from its schema and works."""
    from kit_cli._help import example_override

    example = example_override(RECIPE.stage(stage))
    assert example != "key.path=value"
    assert run_stage(RECIPE, stage, ["-c", "tiny", "--dry-run", example]) == 0
