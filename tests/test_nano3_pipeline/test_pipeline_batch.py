"""`pipeline --batch PROFILE` on the real local Slurm: six jobs chained by dependencies.

The jobs run `python -m nano3...` from the PYTHONPATH in the profile's env_vars (`--no-pex`,
so no Pants is needed), on the tiny configs made smaller still with `--set`. Ordering is
proven from sacct and from the run records, lineage from the registry; a failed upstream
job must take its dependents down. Skips with `SERVICE-MISSING:` when Slurm is absent.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from .conftest import slurm_service

# Tiny configs, smaller still: a few steps each (the point here is the chain, not the model).
FAST = [
    "pretrain:trainer.max_steps=4", "pretrain:trainer.checkpoint_every=2",
    "pretrain:trainer.eval_batches=1", "pretrain:trainer.log_every=2",
    "sft:trainer.max_steps=4", "sft:trainer.checkpoint_every=2",
    "sft:trainer.eval_batches=1", "sft:trainer.log_every=2",
    "rl:trainer.max_steps=2", "rl:trainer.checkpoint_every=1", "rl:trainer.log_every=1",
    "rl:grpo.num_prompts_per_step=2", "rl:grpo.num_generations_per_prompt=2",
    "rl:grpo.eval_prompts=4", "rl:grpo.eval_generations=1",
]
DATA = ("nano3-pretrain-data-tiny", "nano3-sft-data-tiny", "nano3-rl-data-tiny")
# stage -> the stages whose jobs it must wait for (the producers of its inputs).
PRODUCERS = {
    "data prep pretrain": set(), "data prep sft": set(), "data prep rl": set(),
    "pretrain": {"data prep pretrain"},
    "sft": {"data prep sft", "pretrain"},
    "rl": {"data prep rl", "sft"},
}


# Resolved at import, before any test changes directory: under Pants, sys.path holds the
# sandbox's source roots as relative paths (PEX_EXTRA_SYS_PATH).
ABSOLUTE_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path if p)


@contextlib.contextmanager
def _kit_env(root: Path, slurm: dict[str, str] | None) -> Iterator[Path]:
    """A fresh NEMOTRON_HOME shared by submitter and jobs, and an env.toml `slurm` profile."""
    home = root / "home"
    home.mkdir(parents=True)
    pythonpath = ABSOLUTE_PYTHONPATH
    env_toml = root / "env.toml"
    if slurm is not None:
        env_toml.write_text(
            f'[slurm]\nexecutor = "slurm"\ntunnel = "local"\n'
            f'account = "{slurm["NEMOTRON_SLURM_ACCOUNT"]}"\n'
            f'partition = "{slurm["NEMOTRON_SLURM_PARTITION"]}"\ntime = "00:20:00"\n'
            f'setup_lines = ["export PATH={Path(sys.executable).parent}:$PATH"]\n'
            f'[slurm.env_vars]\nPYTHONPATH = "{pythonpath}"\nNEMOTRON_HOME = "{home}"\n'
            f'HF_HUB_OFFLINE = "1"\nWANDB_MODE = "disabled"\n'
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEMOTRON_HOME", str(home))
        mp.setenv("NEMOTRON_ENV_FILE", str(env_toml))
        mp.setenv("PYTHONPATH", pythonpath)
        mp.setenv("WANDB_MODE", "disabled")
        mp.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
        mp.delenv("NEMOTRON_JOB_PEX", raising=False)
        mp.chdir(root)
        yield home


def _pipeline(*argv: str) -> tuple[int, str]:
    """Run the pipeline's entry point in-process; its exit code and stdout."""
    from nano3.pipeline import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main(list(argv))
    return int(done.value.code or 0), out.getvalue()


def _launches(home: Path) -> dict[str, dict[str, Any]]:
    """The launch records the CLI wrote, by stage."""
    records = [json.loads(p.read_text()) for p in (home / "launches").glob("*/launch.json")]
    return {record["stage"]: record for record in records}


def _wait_all(launches: dict[str, dict[str, Any]]) -> dict[str, str]:
    from kit_run import wait_for_job

    return {stage: str(wait_for_job(rec["job_id"], timeout=1200, poll_interval=1.0).state)
            for stage, rec in launches.items()}


def _sacct(scheduler_ids: list[str]) -> dict[str, tuple[str, str, str, str]]:
    """Slurm's accounting: scheduler id -> (state, start, end, elapsed)."""
    done = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", ",".join(scheduler_ids),
         "--format=JobID,State,Start,End,Elapsed"], capture_output=True, text=True, check=True)
    rows = (line.split("|") for line in done.stdout.splitlines() if line.strip())
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Submit the whole tiny pipeline with `--batch slurm` once and wait for all six jobs."""
    slurm = slurm_service()
    with _kit_env(tmp_path_factory.mktemp("batch"), slurm) as home:
        code, stdout = _pipeline("--batch", "slurm", "--no-pex",
                                 *(arg for s in FAST for arg in ("--set", s)))
        launches = _launches(home)
        states = _wait_all(launches) if code == 0 else {}
        yield {"code": code, "stdout": stdout, "home": home, "launches": launches,
               "states": states}


def test_batch_submits_six_chained_jobs_and_prints_follow_commands(batch) -> None:  # type: ignore[no-untyped-def]
    """Exit 0 after submitting; every job id is printed with its status/logs commands."""
    assert batch["code"] == 0, batch["stdout"]
    launches = batch["launches"]
    assert set(launches) == set(PRODUCERS)
    for stage, record in launches.items():
        assert record["mode"] == "batch" and record["profile"] == "slurm"
        for verb in ("status", "logs"):
            assert f"nemotron job {verb} {record['job_id']}" in batch["stdout"], stage
        waits_for = {launches[p]["job_id"] for p in PRODUCERS[stage]}
        assert set(record["after"]) == waits_for, stage
    assert launches["pretrain"]["deferred"] == ["art://nano3-pretrain-data-tiny"]
    assert set(launches["rl"]["deferred"]) == {"art://nano3-rl-data-tiny",
                                               "art://nano3-sft-model-tiny"}
    assert "nemotron art lineage art://nano3-rl-model-tiny:latest" in batch["stdout"]


def test_every_job_succeeded_and_started_after_its_producers_ended(batch) -> None:  # type: ignore[no-untyped-def]
    """From sacct and from the run records: no job started before its producers ended."""
    assert batch["states"] and set(batch["states"].values()) == {"SUCCEEDED"}, batch["states"]
    launches = batch["launches"]
    acct = _sacct([rec["scheduler_id"] for rec in launches.values()])
    from kit_track import load_run

    runs = {stage: load_run(rec["run_id"]) for stage, rec in launches.items()}
    for stage, producers in PRODUCERS.items():
        state, start, _, _ = acct[launches[stage]["scheduler_id"]]
        assert state == "COMPLETED", (stage, state)
        for producer in producers:
            _, _, end, _ = acct[launches[producer]["scheduler_id"]]
            assert datetime.fromisoformat(start) >= datetime.fromisoformat(end), (stage, producer)
            finished = runs[producer].finished_at
            assert finished is not None
            assert datetime.fromisoformat(runs[stage].started_at) > \
                datetime.fromisoformat(finished), (stage, producer)


def test_final_rl_model_lineage_reaches_all_three_data_artifacts(batch) -> None:  # type: ignore[no-untyped-def]
    """The RL model's upstream lineage holds every data artifact and every model of the chain."""
    from kit_artifacts import get_registry, lineage

    assert batch["states"], "the batch was not submitted"
    registry = get_registry()
    final = registry.resolve("art://nano3-rl-model-tiny:latest")
    graph = lineage(final.uri, direction="up")
    for name in (*DATA, "nano3-pretrain-model-tiny", "nano3-sft-model-tiny"):
        assert f"art://{name}:v1" in graph.nodes, name
    runs = {f"run:{rec['run_id']}" for rec in batch["launches"].values()}
    assert {e.source for e in graph.edges if e.source.startswith("run:")} <= runs
    record = registry.record(final.uri)
    assert record.producer.run_id == batch["launches"]["rl"]["run_id"]
    assert set(record.inputs) == {"art://nano3-rl-data-tiny:v1", "art://nano3-sft-model-tiny:v1"}


def test_failed_upstream_job_takes_its_dependents_down(tmp_path: Path) -> None:
    """A failing pretrain data prep: pretrain, SFT and RL never run and publish nothing."""
    slurm = slurm_service()
    with _kit_env(tmp_path, slurm) as home:
        code, stdout = _pipeline("--batch", "slurm", "--no-pex",
                                 "--set", f"data-prep-pretrain:blend.0.path={tmp_path}/none",
                                 *(arg for s in FAST for arg in ("--set", s)))
        assert code == 0, stdout  # a valid config: the missing file is found by the job
        launches = _launches(home)
        states = _wait_all(launches)
        assert states["data prep pretrain"] == "FAILED"
        assert states["data prep sft"] == states["data prep rl"] == "SUCCEEDED"
        acct = _sacct([rec["scheduler_id"] for rec in launches.values()])
        from kit_track import RunNotFoundError, load_run

        for stage in ("pretrain", "sft", "rl"):
            assert states[stage] in ("CANCELLED", "FAILED"), (stage, states[stage])
            state, _, _, elapsed = acct[launches[stage]["scheduler_id"]]
            # Cancelled while pending: no run time in sacct, and the stage never started
            # its tracker run.
            assert state.startswith("CANCELLED") and elapsed == "00:00:00", (stage, state)
            with pytest.raises(RunNotFoundError):
                load_run(launches[stage]["run_id"])
        from kit_artifacts import get_registry

        names = set(get_registry().names())
        assert names == {"nano3-sft-data-tiny", "nano3-rl-data-tiny"}


def test_a_failed_submission_cancels_the_jobs_already_queued(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sixth submission fails: exit 1, and the five jobs queued before it are cancelled."""
    slurm = slurm_service()
    import kit_run
    from kit_run.errors import SubmissionError

    real = kit_run.submit
    count = [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == 6:
            raise SubmissionError("sbatch refused the job (test)")
        return real(*args, **kwargs)

    with _kit_env(tmp_path, slurm) as home:
        monkeypatch.setattr(kit_run, "submit", flaky)
        code, _ = _pipeline("--batch", "slurm", "--no-pex",
                            *(arg for s in FAST for arg in ("--set", s)))
        assert code == 2
        launches = _launches(home)
        queued = {s: r for s, r in launches.items() if r.get("job_id")}
        assert set(queued) == set(PRODUCERS) - {"rl"}
        states = _wait_all(queued)
        for stage in ("pretrain", "sft"):  # waiting on dependencies when cancelled
            assert states[stage] == "CANCELLED", (stage, states[stage])
        from kit_artifacts import get_registry

        assert not any(n.endswith("-model-tiny") for n in get_registry().names())


def test_a_missing_input_queues_nothing(tmp_path: Path) -> None:
    """RL's extra input cannot be pinned: every stage is planned first, so no job is queued."""
    slurm = slurm_service()
    with _kit_env(tmp_path, slurm) as home:
        code, _ = _pipeline("--batch", "slurm", "--no-pex",
                            "--set", "rl:+backend_options.x=${art:no-such-artifact,path}", *(
                                arg for s in FAST for arg in ("--set", s)))
        assert code == 2
        assert not (home / "launches").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        pytest.param(["--set", "nosuchstage:x=1"], "unknown stage 'nosuchstage'",
                     id="unknown-stage"),
        pytest.param(["--set", "pretrain"], "expected STAGE:KEY=VALUE", id="missing-override"),
        pytest.param(["--set", "sft:not-an-override"], "is not an override",
                     id="not-an-override"),
        pytest.param(["--set", "rl:--dry-run"], "is not an override", id="option-as-override"),
        pytest.param(["-c", "no-such-config"], "'no-such-config' is neither a file",
                     id="unknown-config"),
        pytest.param(["--set", "pretrain:trainer..x=1"], "trainer..x", id="malformed-key"),
    ],
)
@pytest.mark.parametrize("mode", ["--batch", "--run", None])
def test_bad_input_fails_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], needle: str,
                                              mode: str | None) -> None:
    """Bad --set or config: one error line, exit 2, no launch record, nothing submitted."""
    with _kit_env(tmp_path, None) as home:
        where = [mode, "nowhere"] if mode else []
        code, stdout = _pipeline(*where, *argv)
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
        assert not (home / "launches").exists() and "submitted" not in stdout


@pytest.mark.parametrize("mode", ["--batch", "--run"])
def test_one_job_pex_for_six_stages_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               mode: str) -> None:
    """NEMOTRON_JOB_PEX with a remote pipeline is a usage error: it would run one stage 6x."""
    pex = tmp_path / "one.pex"
    pex.write_text("")
    with _kit_env(tmp_path, None) as home:
        monkeypatch.setenv("NEMOTRON_JOB_PEX", str(pex))
        code, _ = _pipeline(mode, "nowhere")
        assert code == 2 and not (home / "launches").exists()
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: NEMOTRON_JOB_PEX=") and "--no-pex" in line


def test_run_and_batch_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    """`--run` with `--batch` is a usage error (exit 2) naming both options."""
    from nano3.pipeline import main

    with pytest.raises(SystemExit) as done:
        main(["--run", "a", "--batch", "b"])
    assert done.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
