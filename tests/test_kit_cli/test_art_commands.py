"""`nemotron art ...` against a real kit-artifacts registry in a tmp NEMOTRON_HOME."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit_cli._app import build_app

runner = CliRunner()


@pytest.fixture()
def app():
    """The app without recipes (only the kit commands matter here)."""
    return build_app([])


@pytest.fixture()
def chain(publish_data, tmp_path: Path) -> tuple[str, str]:
    """data (v1, v2) -> run `train-run-1` -> model v1, published through the real registry."""
    from kit_artifacts import Artifact, get_registry, hooks

    publish_data("demo-data", "old\n")
    data = publish_data("demo-data", "new\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00" * 64)
    producer = hooks.Producer("train-run-1", ("train",), "abc123def4567890", False, None)
    model = get_registry().publish(Artifact(path=str(model_dir)), "demo-model",
                                   inputs=[data], producer=producer)
    return data, model.uri


def test_ls_lists_names_versions_and_aliases(app, chain):
    """`art ls` shows each name with its versions and `latest`; `art ls NAME` each version."""
    result = runner.invoke(app, ["art", "ls"])
    assert result.exit_code == 0, result.stderr
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert lines["demo-data"].startswith("2 version(s)\tv1 v2\t")
    assert "latest=v2" in lines["demo-data"]
    one = runner.invoke(app, ["art", "ls", "demo-model"])
    assert one.exit_code == 0
    assert one.stdout.startswith("v1\tArtifact\t") and "run train-run-1" in one.stdout


def test_show_prints_record_with_inputs_and_producer(app, chain):
    """`art show` prints the version record: inputs, producer, aliases, integrity."""
    data, model = chain
    result = runner.invoke(app, ["art", "show", "demo-model"])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["uri"] == model and shown["inputs"] == [data]
    assert shown["producer"]["run_id"] == "train-run-1"
    assert shown["aliases"] == ["latest"] and shown["integrity"]["files"] >= 1


def test_lineage_tree_walks_data_run_model(app, chain):
    """The tree goes model -> producing run (with commit) -> the exact data version -> its run."""
    result = runner.invoke(app, ["art", "lineage", "demo-model:v1"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("demo-model:v1 (Artifact)")
    assert lines[1] == "└── run train-run-1  @abc123def456"
    assert lines[2].startswith("    └── demo-data:v2 (Artifact)")
    assert lines[3].startswith("        └── run implicit-")  # published outside any run
    assert len(lines) == 4


def test_lineage_down_shows_consumers(app, chain):
    """`--down` from the data version reaches the model through the run."""
    result = runner.invoke(app, ["art", "lineage", "art://demo-data:v2", "--down"])
    assert result.exit_code == 0, result.stderr
    assert "run train-run-1" in result.stdout and "demo-model:v1" in result.stdout


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        pytest.param("mermaid", "flowchart LR", id="mermaid"),
        pytest.param("dot", "digraph lineage", id="dot"),
        pytest.param("html", '<svg id="lineage"', id="html"),
        pytest.param("json", '"direction": "up"', id="json"),
    ],
)
def test_lineage_writes_each_format(app, chain, tmp_path: Path, fmt: str, marker: str):
    """`-f FORMAT -o FILE` writes the graph in that format, naming every node."""
    target = tmp_path / f"lineage.{fmt}"
    result = runner.invoke(app, ["art", "lineage", "demo-model", "-f", fmt, "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    text = target.read_text()
    assert marker in text and "demo-data:v2" in text and "train-run-1" in text


def test_verify_ok_then_detects_a_changed_file(app, chain, tmp_path: Path):
    """`art verify` passes on intact data and exits 1 naming a changed file."""
    ok = runner.invoke(app, ["art", "verify", "demo-model"])
    assert ok.exit_code == 0 and ": ok (" in ok.stdout
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x01" * 64)
    bad = runner.invoke(app, ["art", "verify", "demo-model"])
    assert bad.exit_code == 1
    assert "changed\tweights.bin" in bad.stdout


def test_alias_set_resolve_and_remove(app, chain):
    """`art alias` moves an alias that `resolve` then follows; `--remove` deletes it."""
    from kit_artifacts import get_registry

    result = runner.invoke(app, ["art", "alias", "demo-data", "golden", "v1"])
    assert result.exit_code == 0 and "demo-data:golden -> v1" in result.stdout
    assert get_registry().resolve("art://demo-data:golden").version == 1
    removed = runner.invoke(app, ["art", "alias", "demo-data", "golden", "--remove"])
    assert removed.exit_code == 0
    assert "golden" not in get_registry().aliases("demo-data")


def test_gc_lists_then_deletes_unreferenced_versions(app, publish_data):
    """`art gc` only lists by default; `--yes` removes the unreferenced old version."""
    from kit_artifacts import get_registry

    publish_data("scratch", "a")
    publish_data("scratch", "b")
    listed = runner.invoke(app, ["art", "gc"])
    assert listed.exit_code == 0 and "would remove\tart://scratch:v1" in listed.stdout
    assert get_registry().versions("scratch") == [1, 2]
    deleted = runner.invoke(app, ["art", "gc", "--yes"])
    assert deleted.exit_code == 0 and "removed\tart://scratch:v1" in deleted.stdout
    assert get_registry().versions("scratch") == [2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["art", "show", "no-such"], "not found: art://no-such", id="unknown-name"),
        pytest.param(["art", "show", "demo-data:v9"], "existing versions", id="unknown-version"),
        pytest.param(["art", "ls", "no-such"], "no artifact named", id="ls-unknown-name"),
        pytest.param(["art", "lineage", "demo-data", "-f", "png"], "unknown --format",
                     id="bad-format"),
        pytest.param(["art", "lineage", "demo-data", "--depth", "0"], "--depth must be",
                     id="bad-depth"),
        pytest.param(["art", "alias", "demo-data", "x", "latest-ish"], "is not vN or N",
                     id="bad-alias-version"),
        pytest.param(["art", "alias", "demo-data", "x"], "missing VERSION", id="alias-no-version"),
        pytest.param(["art", "alias", "demo-data", "x", "--remove"], "alias 'x'",
                     id="remove-unknown-alias"),
        pytest.param(["art", "gc", "--keep-last", "-1"], "--keep-last", id="bad-keep-last"),
        pytest.param(["art", "show", "Bad Name!"], "", id="malformed-ref"),
    ],
)
def test_bad_input_exits_2_with_one_line(app, chain, argv: list[str], message: str):
    """Every bad artifact command exits 2 with a one-line error and no traceback."""
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_lineage_of_an_implicit_runs_version_shows_its_inputs(app, publish_data, tmp_path):
    """A model published outside a run (a notebook) points at its implicit run; `art
    lineage` follows the pointer to the data it loaded, and `art show` lists it."""
    from kit_artifacts import Artifact, get_registry

    data = publish_data("nb-data", "rows\n")
    Artifact.from_uri(data)  # loaded outside any run
    model_dir = tmp_path / "nb-model"
    model_dir.mkdir()
    (model_dir / "w.bin").write_bytes(b"w")
    Artifact(path=str(model_dir)).save("nb-model")
    raw = json.loads(next(Path(get_registry().root, "nb-model").glob("v1/version.json"))
                     .read_text())
    assert raw["inputs"] == [] and raw["run_inputs"]["count"] == 1
    lines = runner.invoke(app, ["art", "lineage", "nb-model"]).stdout.splitlines()
    assert lines[1].startswith("└── run implicit-")
    assert lines[2].startswith("    └── nb-data:v1 (Artifact)")
    shown = json.loads(runner.invoke(app, ["art", "show", "nb-model"]).stdout)
    assert shown["inputs"] == [data]
