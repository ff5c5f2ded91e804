"""The seed's own examples run as written (`seed_blocks.py` holds them verbatim).

The quick example runs as a script `train.py` with the seed's command line, in a tmp
NEMOTRON_HOME and a tmp working directory holding the seed's `config.yaml`. Two gaps of the
seed itself are bridged, and only these: its quick example uses `ModelArtifact` without
importing it (the test supplies that one name, from `nemotron.kit`), and its `config.yaml`
names `/data/pretrain`, which a test cannot own (the data artifact is published in tmp and
`data_path=...` is appended to the seed's command line). The Execution block
(`uv run nemotron nano3 pretrain --run YOUR-CLUSTER`) needs a cluster and is not run here.
"""
from __future__ import annotations

import importlib
import json
import re
import runpy
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

import nemotron.kit as kit
from test_nemotron_kit import seed_blocks

TOKENS = 1_234_567


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp NEMOTRON_HOME and cwd with the seed's config.yaml and train.py; data published."""
    monkeypatch.setenv("NEMOTRON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEMOTRON_ARTIFACTS_ROOT", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("PWD", str(work))  # the seed's `${oc.env:PWD}/output`
    (work / "config.yaml").write_text(seed_blocks.CONFIG_YAML)
    (work / "train.py").write_text(seed_blocks.QUICK_EXAMPLE)
    data = tmp_path / "pretrain"
    data.mkdir()
    (data / "blend.json").write_text('{"train": null, "valid": null, "test": null}\n')
    kit.PretrainBlendsArtifact(path=data, total_tokens=TOKENS, total_sequences=10).save()
    return work


def _run(command: str, *extra: str, script: str | None = None,
         monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run `python train.py ARGS` (the seed's command line) in this process; its globals."""
    python, path, *args = shlex.split(command)
    assert python == "python"
    if script is not None:
        Path(path).write_text(script)
    monkeypatch.setattr(sys, "argv", [path, *args, *extra])
    # The seed's quick example uses ModelArtifact without importing it (see module doc).
    return runpy.run_path(path, init_globals={"ModelArtifact": kit.ModelArtifact},
                          run_name="__main__")


def test_quick_example_runs_as_written(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`python train.py --config config.yaml learning_rate=5e-5`: the override applies, the
    data artifact loads, and `ModelArtifact(..., loss=2.5)` is saved with its final loss."""
    pretrain = workdir.parent / "pretrain"
    ns = _run(seed_blocks.QUICK_EXAMPLE_RUN, f"data_path={pretrain}", monkeypatch=monkeypatch)
    assert ns["config"].learning_rate == 5e-5
    assert ns["config"].output_dir == workdir / "output"
    assert capsys.readouterr().out == f"Training on {TOKENS:,} tokens\n"
    model = kit.ModelArtifact.from_uri("art://ModelArtifact-pretrain:latest")
    assert (model.step, model.loss, model.final_loss) == (10000, 2.5, 2.5)
    stored = json.loads((workdir / "output" / "metadata.json").read_text())
    assert stored["final_loss"] == 2.5 and "loss" not in stored  # stored once, FORMATS name


def test_config_override_example(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python train.py --config config.yaml output_dir=/scratch/output`: the seed's YAML
    (`1e-4`, `${oc.env:PWD}`) loads and the override wins (run up to the config load)."""
    config_part = seed_blocks.QUICK_EXAMPLE.split("# Load data artifact")[0]
    ns = _run(seed_blocks.CONFIG_OVERRIDE_RUN, script=config_part, monkeypatch=monkeypatch)
    config = ns["config"]
    assert config.output_dir == Path("/scratch/output")
    assert config.data_path == Path("/data/pretrain") and config.learning_rate == 1e-4


def test_artifacts_example_runs_as_written(workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`PretrainBlendsArtifact.from_uri("art://PretrainBlendsArtifact:latest")` loads it."""
    exec(compile(seed_blocks.ARTIFACTS_EXAMPLE, "seed:artifacts", "exec"), {})
    assert capsys.readouterr().out == (
        f"Path: {workdir.parent / 'pretrain'}\nTokens: {TOKENS:,}\n")


def test_module_structure_imports() -> None:
    """Every module of the seed's map (`nemotron.kit.{artifacts,cli,...}`) imports."""
    names = re.findall(r"── (\w+)", seed_blocks.MODULE_STRUCTURE)
    assert names == ["artifacts", "cli", "config", "run", "trackers", "wandb"]
    for name in names:
        module = importlib.import_module(f"nemotron.kit.{name}")
        assert module.__all__ == sorted(module.__all__)


def _api_names() -> list[str]:
    return re.findall(r"^\| `(\w+)(?:\(\))?` \|", seed_blocks.API_REFERENCE, re.M)


def test_api_reference_names_are_all_exported() -> None:
    """Each export the seed's API tables list is a `nemotron.kit` name."""
    names = _api_names()
    assert len(names) == 14
    for name in names:
        assert name in kit.__all__ and getattr(kit, name) is not None


def test_api_reference_configuration_and_execution(workdir: Path) -> None:
    """`load_omegaconf_yaml`, `apply_hydra_overrides`, `load_env_profile`, `build_executor`
    as the seed names them."""
    cfg = kit.load_omegaconf_yaml("config.yaml")
    cfg = kit.apply_hydra_overrides(cfg, ["learning_rate=5e-5"])
    assert cfg.learning_rate == 5e-5 and cfg.data_path == "/data/pretrain"
    (workdir / "env.toml").write_text('[local-profile]\nexecutor = "local"\n')
    profile = kit.load_env_profile("local-profile", workdir / "env.toml")
    executor = kit.build_executor(profile)
    assert type(executor).__name__ == "LocalExecutor"


def test_api_reference_tracking_the_seeds_way(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """`init_wandb_if_configured(cfg.wandb, "pretrain")`, `add_wandb_tags([...])`,
    `finish_wandb()` with real W&B in offline mode: a W&B run opens, tags and all."""
    from kit_config import load_config
    from kit_track import _helpers

    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_MODE", "WANDB_TAGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    (workdir / "train.yaml").write_text("wandb:\n  project: seed\n  mode: offline\n")
    cfg = load_config(workdir / "train.yaml")
    # The standalone mirror's error book lives for the process: compare with what it held.
    errors_before = _helpers.wandb_errors()
    tracker = kit.init_wandb_if_configured(cfg.wandb, "pretrain")
    try:
        assert tracker is not None and tracker.handle is not None and tracker.offline
        kit.add_wandb_tags(["data-prep", "pretrain"])
        kit.add_wandb_tags("a", "b")
    finally:
        kit.finish_wandb()
    assert _helpers.wandb_errors() == errors_before
    assert tracker.job_type == "pretrain" and tracker.project == "seed"
    assert list((tmp_path / "wandb").rglob("offline-run-*"))


def test_profile_reads_like_a_mapping(tmp_path: Path) -> None:
    """`profile["nodes"]`, `"nodes" in profile`, iteration, as well as `.get`."""
    env = tmp_path / "env.toml"
    env.write_text('[cluster]\nexecutor = "slurm"\naccount = "a"\npartition = "p"\nnodes = 2\n')
    profile: Any = kit.load_env_profile("cluster", env)
    assert profile["nodes"] == 2 and profile.get("nodes") == 2
    assert "nodes" in profile and "gpus" not in profile
    assert "nodes" in list(profile)


def test_unknown_fields_and_typos_are_still_errors(workdir: Path) -> None:
    """The seed's names are accepted; a real typo still fails with a suggestion."""
    from kit_artifacts import ArtifactMetadataError

    with pytest.raises(ArtifactMetadataError, match="did you mean 'loss'"):
        kit.ModelArtifact(path=workdir, step=1, los=2.5)
    with pytest.raises(ArtifactMetadataError, match="unknown field"):
        kit.ModelArtifact(path=workdir, step=1, accuracy=0.5)


def _seed_file() -> Path | None:
    here = Path(__file__).resolve()
    for root in here.parents:
        candidate = root.parent / "shared" / "seeds" / seed_blocks.SEED_FILE
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("name", [n for n in seed_blocks.__all__ if n != "SEED_FILE"])
def test_blocks_are_verbatim_copies_of_the_seed(name: str) -> None:
    """Each block still appears byte for byte in the seed (CI has it at ../shared)."""
    seed = _seed_file()
    if seed is None:
        pytest.skip("the seed file (../shared/seeds) is not beside this checkout")
    assert getattr(seed_blocks, name) in seed.read_text()
