"""The tiny nano3 pipeline end to end: data prep -> pretrain -> SFT -> RL on 2 CPU cores.

One run of the pipeline (a module-scoped fixture) feeds every assertion; they read the
published artifacts and the registry, never the logs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NAMES = {
    "pretrain_data": "nano3-pretrain-data-tiny",
    "sft_data": "nano3-sft-data-tiny",
    "rl_data": "nano3-rl-data-tiny",
    "pretrain_model": "nano3-pretrain-model-tiny",
    "sft_model": "nano3-sft-model-tiny",
    "rl_model": "nano3-rl-model-tiny",
}


# Resolved at import, before any test changes directory: under Pants, sys.path holds the
# sandbox's source roots as relative paths, which a child started elsewhere would not find.
ABSOLUTE_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path if p)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMOTRON_")}
    env.update(NEMOTRON_HOME=str(home), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1",
               WANDB_MODE="disabled", PYTHONPATH=ABSOLUTE_PYTHONPATH)
    env.pop("NEMOTRON_ENV_FILE", None)
    return env


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run `python -m nano3.pipeline` once on the tiny configs in an empty NEMOTRON_HOME."""
    home = tmp_path_factory.mktemp("home")
    workdir = tmp_path_factory.mktemp("cwd")  # no env.toml anywhere above it
    proc = subprocess.run(
        [sys.executable, "-m", "nano3.pipeline"], cwd=workdir, env=_env(home),
        capture_output=True, text=True, timeout=1500, check=False,
    )
    assert proc.returncode == 0, f"pipeline failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    from kit_artifacts import ArtifactRegistry

    return {"home": home, "registry": ArtifactRegistry(str(home / "artifacts")),
            "stdout": proc.stdout, "workdir": workdir}


def _load(pipeline: dict[str, object], key: str):  # type: ignore[no-untyped-def]
    registry = pipeline["registry"]
    return registry.load(registry.resolve(f"art://{NAMES[key]}:latest"))  # type: ignore[attr-defined]


def test_every_stage_published_its_artifact(pipeline: dict[str, object]) -> None:
    """Each of the six stages published exactly one version under its tiny name."""
    registry = pipeline["registry"]
    for name in NAMES.values():
        assert registry.versions(name) == [1], name  # type: ignore[attr-defined]


def test_pretrain_loss_went_down(pipeline: dict[str, object]) -> None:
    """The pretrained model's final eval loss is below the loss it started from."""
    model = _load(pipeline, "pretrain_model")
    assert model.final_loss is not None
    assert model.final_loss < model.metadata["initial_loss"]
    assert model.step > 0 and Path(model.path).exists()


def test_sft_loss_on_assistant_tokens_went_down(pipeline: dict[str, object]) -> None:
    """SFT's loss on assistant tokens at the end is below its value at the start."""
    model = _load(pipeline, "sft_model")
    assert model.final_loss is not None
    assert model.final_loss < model.metadata["initial_loss"]


def test_sft_model_answers_held_out_rl_prompts(pipeline: dict[str, object]) -> None:
    """The SFT model that RL starts from answers most held-out RL prompts exactly (greedy)."""
    meta = _load(pipeline, "rl_model").metadata
    # Measured 0.76 on the tiny configs (0.10 before the tasks were made copyable by token).
    assert meta["initial_greedy_exact_match"] > 0.5


def test_rl_reward_on_held_out_prompts_went_up(pipeline: dict[str, object]) -> None:
    """RL's mean reward on held-out prompts is higher at the end than at the start."""
    meta = _load(pipeline, "rl_model").metadata
    assert meta["held_out_prompts"] > 0
    # Measured on the tiny configs, seeds 1234 and 1-4: +0.027 to +0.039 (100 prompts x 32
    # samples; the start itself varies by +-0.003 between eval seeds).
    assert meta["final_mean_reward"] > meta["initial_mean_reward"]
    assert meta["trainable_parameters"] == 128  # the tiny config tunes the final LayerNorm only


@pytest.mark.parametrize(
    ("output", "inputs"),
    [
        pytest.param("pretrain_model", ["pretrain_data"], id="pretrain"),
        pytest.param("sft_model", ["sft_data", "pretrain_model"], id="sft"),
        pytest.param("rl_model", ["rl_data", "sft_model"], id="rl"),
    ],
)
def test_lineage_has_every_edge(pipeline: dict[str, object], output: str,
                                inputs: list[str]) -> None:
    """Each model's lineage shows input -> producing run -> model for every input it used."""
    from kit_artifacts import lineage

    graph = lineage(f"art://{NAMES[output]}:v1", direction="up", depth=1,
                    registry=pipeline["registry"])  # type: ignore[arg-type]
    out_uri = f"art://{NAMES[output]}:v1"
    runs = [e.source for e in graph.edges if e.target == out_uri]
    assert len(runs) == 1 and runs[0].startswith("run:") and runs[0] != "run:local"
    feeding = {e.source for e in graph.edges if e.target == runs[0]}
    assert feeding == {f"art://{NAMES[name]}:v1" for name in inputs}


def test_pipeline_ends_with_the_lineage_tree(pipeline: dict[str, object]) -> None:
    """The pipeline's last output is the lineage tree reaching back to every data artifact."""
    tail = str(pipeline["stdout"]).split("=== lineage of", 1)[-1]
    for key in ("rl_model", "sft_model", "pretrain_model", "rl_data", "sft_data",
                "pretrain_data"):
        assert NAMES[key] in tail, key


def test_pipeline_prints_the_path_of_its_offline_report(pipeline: dict[str, object]) -> None:
    """The last line is the final model's report: one HTML file naming every artifact."""
    last = str(pipeline["stdout"]).strip().splitlines()[-1]
    report = Path(last)
    assert report.suffix == ".html" and report.is_file(), last
    html = report.read_text(encoding="utf-8")
    assert '<svg id="lineage"' in html and 'data-metric="lr"' in html
    for key in ("rl_model", "sft_model", "pretrain_model", "rl_data", "sft_data",
                "pretrain_data"):
        assert NAMES[key] in html, key


def test_rerun_of_data_prep_reproduces_identical_shards(pipeline: dict[str, object],
                                                        tmp_path: Path) -> None:
    """`nemotron rerun` of the data-prep run rebuilds byte-identical shards from scratch."""
    home = Path(str(pipeline["home"]))
    data = _load(pipeline, "pretrain_data")
    out_dir = Path(data.path)
    original = {p.relative_to(out_dir): p.read_bytes() for p in sorted(out_dir.rglob("*"))
                if p.is_file() and p.suffix in (".bin", ".idx")}
    assert original, "data prep wrote no shards"
    launches = [json.loads(p.read_text()) for p in (home / "launches").glob("*/launch.json")]
    run_id = next(rec["run_id"] for rec in launches
                  if rec["module"] == "nano3.data_prep.pretrain")
    shutil.rmtree(out_dir)  # nothing left to resume from: a real rebuild
    proc = subprocess.run(
        [sys.executable, "-m", "nano3.cli", "rerun", run_id, "--allow-code-change"],
        cwd=str(pipeline["workdir"]), env=_env(home), capture_output=True, text=True,
        timeout=900, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rebuilt = {p.relative_to(out_dir): p.read_bytes() for p in sorted(out_dir.rglob("*"))
               if p.is_file() and p.suffix in (".bin", ".idx")}
    assert rebuilt.keys() == original.keys()
    assert all(rebuilt[k] == original[k] for k in original)
