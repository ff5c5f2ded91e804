"""nano3 stages shipped as PEX jobs to the real local Slurm (`.ci/services/slurm-up`).

The PEX files are the Pants-built `recipes/nano3:*-job` targets (runtime package
dependencies of this test), the same files `--run/--batch PROFILE` ship for users. Skips with
`SERVICE-MISSING:` (which CI refuses) when Slurm or the PEX files are absent.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import slurm_service

# Resolved at import, before any test changes directory: under Pants, sys.path holds the
# sandbox's source roots as relative paths, which stage subprocesses would not find.
ABSOLUTE_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path if p)
PEX_DIR = Path("recipes.nano3").resolve()  # where Pants puts runtime package dependencies


def _pex(name: str) -> Path:
    path = PEX_DIR / f"{name}.pex"
    if not path.exists():
        pytest.skip(f"SERVICE-MISSING: {path} was not built (run this test through Pants)")
    return path.resolve()


@pytest.fixture()
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A NEMOTRON_HOME shared by submitter and jobs, and an env.toml with Slurm profiles."""
    slurm = slurm_service()
    home = tmp_path / "home"
    home.mkdir()
    bindir = Path(sys.executable).parent
    env_toml = tmp_path / "env.toml"
    common = (
        f'executor = "slurm"\ntunnel = "local"\naccount = "{slurm["NEMOTRON_SLURM_ACCOUNT"]}"\n'
        f'partition = "{slurm["NEMOTRON_SLURM_PARTITION"]}"\ntime = "00:20:00"\n'
        f'setup_lines = ["export PATH={bindir}:$PATH"]\n'
    )
    env_toml.write_text(
        f"[slurm]\n{common}[slurm.env_vars]\nNEMOTRON_HOME = \"{home}\"\n"
        f"[slurm2]\n{common}ntasks_per_node = 2\n[slurm2.env_vars]\nNEMOTRON_HOME = \"{home}\"\n"
    )
    monkeypatch.setenv("NEMOTRON_HOME", str(home))
    monkeypatch.setenv("PYTHONPATH", ABSOLUTE_PYTHONPATH)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env_toml))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    return {"home": home, "tmp": tmp_path}


def _run(stage: str, *argv: str, pex: str | None = None) -> int:
    from kit_cli import run_stage
    from nano3.recipe import RECIPE

    if pex is not None:
        os.environ["NEMOTRON_JOB_PEX"] = str(_pex(pex))
    try:
        return run_stage(RECIPE, stage, list(argv))
    finally:
        os.environ.pop("NEMOTRON_JOB_PEX", None)


def _shards(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".bin", ".idx")}


def test_two_task_data_prep_job_matches_the_local_run(shared: dict[str, Path]) -> None:
    """A 2-task Slurm data-prep job writes shards byte-identical to the 1-process local run."""
    from kit_artifacts import get_registry

    assert _run("data prep pretrain", "-c", "tiny", "parallel.num_workers=1") == 0
    local = get_registry().load(get_registry().resolve("art://nano3-pretrain-data-tiny:v1"))
    out = shared["tmp"] / "slurm-out"
    code = _run("data prep pretrain", "-c", "tiny", "--run", "slurm2",
                f"output_dir={out}", "parallel.num_workers=1", pex="data-prep-pretrain-job")
    assert code == 0
    remote = get_registry().load(get_registry().resolve("art://nano3-pretrain-data-tiny:v2"))
    assert Path(remote.path) == out or out in Path(remote.path).parents
    local_shards, remote_shards = _shards(Path(local.path)), _shards(Path(remote.path))
    assert local_shards and local_shards == remote_shards
    assert remote.total_tokens == local.total_tokens


def _lineage_edges(uri: str) -> tuple[str, set[str]]:
    from kit_artifacts import lineage

    graph = lineage(uri, direction="up", depth=1)
    run = next(e.source for e in graph.edges if e.target == uri)
    return run, {e.source for e in graph.edges if e.target == run}


def _assert_launch_code(run_id: str, uri: str) -> None:
    """The job's run record and the model's producer hold the launch's commit and the
    shipped PEX's sha256 (the job's own folder is no checkout: the launcher passed them)."""
    from kit_artifacts import get_registry
    from kit_cli._launches import load_launch
    from kit_track import load_run

    launch = load_launch(run_id)
    digest = f"sha256:{hashlib.sha256(_pex('pretrain-job').read_bytes()).hexdigest()}"
    assert launch.code_digest == digest
    code = (launch.git_commit, launch.git_dirty, launch.code_digest)
    record = load_run(run_id)
    producer = get_registry().record(uri).producer
    assert (record.git_commit, record.git_dirty, record.code_digest) == code
    assert (producer.git_commit, producer.git_dirty, producer.code_digest) == code


def test_pretrain_run_and_batch_on_slurm_publish_with_lineage(shared: dict[str, Path]) -> None:
    """`pretrain --run` and `--batch` on Slurm train from the PEX, publish, and show lineage."""
    from kit_artifacts import get_registry
    from kit_cli.main import main as nemotron
    from kit_run import wait_for_job

    assert _run("data prep pretrain", "-c", "tiny") == 0
    fast = ["trainer.max_steps=6", "trainer.checkpoint_every=3", "trainer.eval_batches=1"]
    assert _run("pretrain", "-c", "tiny", "--run", "slurm", *fast, pex="pretrain-job") == 0
    registry = get_registry()
    model = registry.load(registry.resolve("art://nano3-pretrain-model-tiny:v1"))
    assert model.step == 6
    run, inputs = _lineage_edges("art://nano3-pretrain-model-tiny:v1")
    assert run.startswith("run:") and inputs == {"art://nano3-pretrain-data-tiny:v1"}
    _assert_launch_code(run.removeprefix("run:"), "art://nano3-pretrain-model-tiny:v1")

    launches = shared["home"] / "launches"
    before = set(launches.iterdir())
    assert _run("pretrain", "-c", "tiny", "--batch", "slurm", *fast,
                "artifact_name=nano3-pretrain-model-tiny-batch", pex="pretrain-job") == 0
    (launch_dir,) = set(launches.iterdir()) - before
    job_id = json.loads((launch_dir / "launch.json").read_text())["job_id"]
    assert wait_for_job(job_id, timeout=900, poll_interval=1.0).state == "SUCCEEDED"
    for verb in ("status", "logs"):
        with pytest.raises(SystemExit) as done:
            nemotron(["job", verb, job_id])
        assert done.value.code in (0, None), verb
    batch = registry.resolve("art://nano3-pretrain-model-tiny-batch:latest")
    _, batch_inputs = _lineage_edges(batch.uri)
    assert batch_inputs == {"art://nano3-pretrain-data-tiny:v1"}


def test_two_task_pretrain_job_trains_data_parallel_and_publishes_once(
        shared: dict[str, Path]) -> None:
    """`ntasks_per_node = 2`: srun starts two ranks of the pretrain PEX, Megatron-Core trains
    them data-parallel over gloo (global batch = 2 x micro batch), and rank 0 alone publishes
    one version whose save a fresh reader finds."""
    from kit_artifacts import get_registry

    assert _run("data prep pretrain", "-c", "tiny") == 0
    fast = ["trainer.max_steps=4", "trainer.checkpoint_every=4", "trainer.eval_batches=1",
            "trainer.num_threads=1"]
    assert _run("pretrain", "-c", "tiny", "--run", "slurm2", *fast, pex="pretrain-job") == 0
    registry = get_registry()
    assert registry.versions("nano3-pretrain-model-tiny") == [1]
    model = registry.load(registry.resolve("art://nano3-pretrain-model-tiny:v1"))
    assert model.step == 4 and model.metadata["world_size"] == 2
    assert model.metadata["global_batch_size"] == 2 * 2  # tiny micro batch 2 on each rank
    assert model.final_loss < model.metadata["initial_loss"]
    assert (Path(model.path) / "iter_0000004" / "model_config.json").is_file()
