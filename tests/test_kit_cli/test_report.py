"""The report builder and `nemotron art report` / `runs report` / `art lineage -f html`."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from kit_cli import write_art_report, write_run_report
from kit_cli._app import build_app
from kit_cli._report_data import metric_order, read_metrics
from kit_cli._report_svg import layout
from test_kit_cli.headless import parse_dom
from test_kit_cli.report_lineage import TinyPipeline, build_tiny_pipeline

runner = CliRunner()


@pytest.fixture()
def tiny(tmp_path: Path) -> TinyPipeline:
    return build_tiny_pipeline(tmp_path / "data")


def _our_part(html: str) -> str:
    """The page without the embedded plotly.js (a library whose strings name web sites)."""
    start = html.index('<script id="plotly-js">')
    return html[:start] + html[html.index("</script>", start):]


def _report_json(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html,
                      re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def test_graph_has_every_artifact_run_and_edge(tiny: TinyPipeline, tmp_path: Path) -> None:
    """The SVG draws each version and run of the lineage once, and each edge once."""
    html = write_art_report(tiny.final, tmp_path / "r.html").read_text()
    dom = parse_dom(_our_part(html))
    nodes = {g.attributes["data-id"]: g.attributes["data-kind"] for g in dom.find("g", "node")}
    assert nodes == {**{a: "artifact" for a in tiny.artifacts},
                     **{f"run:{r}": "run" for r in tiny.runs}}
    edges = [(p.attributes["data-source"], p.attributes["data-target"])
             for p in dom.find("path", "edge")]
    assert sorted(edges) == sorted(tiny.edges)
    # Each node links to its details section, which exists.
    anchors = {s.attributes["id"] for s in dom.find("section", "node-details")}
    links = {a.attributes["href"][1:] for a in dom.find("a") if "href" in a.attributes}
    assert links <= anchors and len(anchors) == len(nodes)


def test_layout_puts_producers_above_what_they_make(tiny: TinyPipeline) -> None:
    """Every edge points downward: the layering follows the data flow."""
    ids = {n for edge in tiny.edges for n in edge}
    pos = layout(sorted(ids), sorted(tiny.edges))
    assert all(pos[s][1] < pos[t][1] for s, t in tiny.edges)
    assert len(set(pos.values())) == len(ids)  # no two nodes drawn on top of each other


def test_curves_hold_every_logged_point(tiny: TinyPipeline, tmp_path: Path) -> None:
    """One plot per metric, one trace per run that logged it, every value kept."""
    plots = _report_json(write_art_report(tiny.final, tmp_path / "r.html").read_text())["plots"]
    metrics = [p["metric"] for p in plots]
    assert metrics[:2] == ["train/loss", "eval/loss"] and "train/reward" in metrics
    loss = next(p for p in plots if p["metric"] == "train/loss")
    counts = {t["run"]: len(t["y"]) for t in loss["traces"]}
    assert counts == {r: n for r, n in tiny.loss_points.items() if n}


def test_secrets_masked_and_no_url_in_our_markup(tiny: TinyPipeline, tmp_path: Path) -> None:
    """The resolved config hides secrets; nothing in the page points at the network."""
    html = write_art_report(tiny.final, tmp_path / "r.html").read_text()
    assert "s3cr3t-value" not in html
    assert "resolved config (secrets masked)" in html
    ours = _our_part(html)
    assert not re.search(r"https?://|//cdn|@import", ours)

    class Refs(HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found += [f"{tag} {k}={v}" for k, v in attrs
                           if k in {"src", "href"} and not (v or "").startswith("#")]

    refs = Refs()
    refs.feed(html)
    assert refs.found == []
    assert "default-src 'none'" in html  # the browser itself refuses any fetch


def test_secret_in_a_producer_argv_is_masked(tmp_path: Path) -> None:
    """A secret passed as an override on the producing command line is masked in the page."""
    from kit_artifacts import Artifact, get_registry, hooks

    data = tmp_path / "d"
    data.mkdir()
    (data / "x").write_text("x")
    producer = hooks.Producer("no-folder-run", ("train", "wandb.api_key=zz-secret", "lr=1"),
                              None, None, None)
    ref = get_registry().publish(Artifact(path=str(data)), "m", producer=producer)
    html = write_art_report(ref.uri, tmp_path / "r.html").read_text()
    assert "zz-secret" not in html and "train wandb.api_key=*** lr=1" in html


def test_missing_run_folder_and_corrupt_metrics_line_still_render(
        tiny: TinyPipeline, tmp_path: Path, isolated_home: Path) -> None:
    """A deleted run folder and a bad metrics line are named; the rest of the page is there."""
    import shutil

    by_stage = {stage: run for run, stage in tiny.runs.items()}
    shutil.rmtree(isolated_home / "runs" / by_stage["data_prep"])
    metrics = isolated_home / "runs" / by_stage["pretrain"] / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    lines.insert(2, '{"step": 3, "metrics": {"train/loss": 1.0')  # torn, mid-file
    metrics.write_text("\n".join(lines) + "\n")
    html = write_art_report(tiny.final, tmp_path / "r.html").read_text()
    problems = [li.text_content() for li in parse_dom(_our_part(html)).find("li", "problem")]
    assert any(by_stage["data_prep"] in p and "run record missing" in p for p in problems)
    assert any(f"{metrics}:3: corrupt metrics line skipped" in p for p in problems)
    plots = _report_json(html)["plots"]
    loss = next(p for p in plots if p["metric"] == "train/loss")
    counts = {t["run"]: len(t["y"]) for t in loss["traces"]}
    assert counts[by_stage["pretrain"]] == tiny.loss_points[by_stage["pretrain"]]


def test_run_details_show_status_host_and_tracker_errors(tiny: TinyPipeline, tmp_path: Path,
                                                          isolated_home: Path) -> None:
    """A run's section lists its status, host, duration and each tracker error."""
    rl = next(r for r, s in tiny.runs.items() if s == "rl")
    record = isolated_home / "runs" / rl / "run.json"
    data = json.loads(record.read_text())
    data["tracker_errors"] = [{"tracker": "wandb", "operation": "log_metrics",
                               "error_type": "ConnectionError", "message": "offline",
                               "time": "t", "count": 3}]
    record.write_text(json.dumps(data))
    html = write_art_report(tiny.final, tmp_path / "r.html").read_text()
    (section,) = (s for s in parse_dom(_our_part(html)).find("section", "node-details")
                  if s.attributes["data-id"] == f"run:{rl}")
    text = section.text_content()
    assert "wandb log_metrics: ConnectionError: offline (3 times)" in text
    assert f"status{data['status']}" in text and f"host{data['host']}" in text
    assert "duration" in text and "not finished" not in text


def test_changed_artifact_file_is_a_problem(tiny: TinyPipeline, tmp_path: Path) -> None:
    """A file changed after publish shows as a failed integrity check, listed as a problem."""
    from kit_artifacts import get_registry

    data = Path(get_registry().resolve("art://sft-data:v1").path)
    (data / "part-0.bin").write_bytes(b"changed")
    html = write_art_report(tiny.final, tmp_path / "r.html").read_text()
    problems = [li.text_content() for li in parse_dom(_our_part(html)).find("li", "problem")]
    assert problems == ["sft-data:v1 (Artifact): integrity FAILED: 0 missing, 1 changed, "
                        "0 extra (nemotron art verify art://sft-data:v1)"]


def test_read_metrics_non_numbers_become_gaps(tmp_path: Path) -> None:
    """`nan` (stored as a string) is a gap, a line without step uses its index."""
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": null, "metrics": {"loss": 2.0}}\n'
                    '{"step": 5, "metrics": {"loss": "nan"}}\n[1]\n')
    (series,), problems = read_metrics(path, "r1")
    assert series.x == (0.0, 5.0) and series.y == (2.0, None)
    assert problems == [f"{path}:3: metrics line without a 'metrics' object skipped"]


_values = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(st.lists(st.tuples(st.integers(0, 10**6),
                          st.dictionaries(st.sampled_from(["loss", "lr", "eval/loss"]), _values,
                                          min_size=1)), max_size=20))
def test_read_metrics_round_trips_file_tracker_lines(tmp_path_factory: pytest.TempPathFactory,
                                                     logged: list[tuple[int, dict[str, float]]]
                                                     ) -> None:
    """What FileTracker.log_metrics writes, read_metrics gives back, per metric, in order."""
    path = tmp_path_factory.mktemp("m") / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "time": "t", "metrics": m}) + "\n"
                            for s, m in logged))
    series, problems = read_metrics(path, "r")
    assert problems == []
    got = {s.metric: list(zip(s.x, s.y, strict=True)) for s in series}
    want: dict[str, list[tuple[float, float]]] = {}
    for step, values in logged:
        for key, value in values.items():
            want.setdefault(key, []).append((float(step), value))
    assert got == want


def test_down_report_reaches_the_consumers(tiny: TinyPipeline, tmp_path: Path) -> None:
    """`--down` from the first data version reaches every model built from it."""
    html = write_art_report("art://pretrain-data:v1", tmp_path / "d.html", down=True)
    ids = {g.attributes["data-id"] for g in parse_dom(_our_part(html.read_text())).find("g")
           if "data-id" in g.attributes}
    assert {"art://pretrain-model:v1", "art://sft-model:v1", "art://rl-model:v1"} <= ids
    assert "art://sft-data:v1" not in ids
    assert "Consumers of art://pretrain-data:v1" in html.read_text()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(["lr", "eval/loss", "train/loss"], ["train/loss", "eval/loss", "lr"],
                     id="loss-first-train-before-eval"),
        pytest.param(["zeta", "train/reward", "tokens_per_sec"],
                     ["tokens_per_sec", "train/reward", "zeta"], id="throughput-reward-rest"),
    ],
)
def test_metric_order(names: list[str], expected: list[str]) -> None:
    assert sorted(names, key=metric_order) == expected


def test_run_report_shows_the_run_its_inputs_and_outputs(tiny: TinyPipeline,
                                                          tmp_path: Path) -> None:
    """`write_run_report` of SFT: both inputs with their lineage, the run, its model."""
    sft = next(r for r, s in tiny.runs.items() if s == "sft")
    html = write_run_report(sft, tmp_path / "sft.html").read_text()
    ids = {g.attributes["data-id"] for g in parse_dom(_our_part(html)).find("g", "node")}
    assert {f"run:{sft}", "art://sft-model:v1", "art://pretrain-model:v1", "art://sft-data:v1",
            "art://pretrain-data:v1"} <= ids
    assert "art://rl-model:v1" not in ids


def test_cli_commands_write_the_report(tiny: TinyPipeline, tmp_path: Path,
                                       isolated_home: Path) -> None:
    """`art report`, `runs report` and `art lineage -f html` print the file they wrote."""
    app = build_app([])
    out = tmp_path / "a.html"
    result = runner.invoke(app, ["art", "report", "rl-model", "-o", str(out), "--no-verify"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}" and "not checked" in out.read_text()
    result = runner.invoke(app, ["art", "lineage", "rl-model:v1", "-f", "html"])
    default = isolated_home / "reports" / "rl-model-v1.html"
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"wrote {default}" and default.is_file()
    run = next(iter(tiny.runs))
    result = runner.invoke(app, ["runs", "report", run])
    assert result.exit_code == 0, result.stderr
    assert (isolated_home / "reports" / f"run-{run}.html").is_file()


def test_cli_unknown_run_is_one_line_error(tiny: TinyPipeline) -> None:
    """An unknown run id exits 2 with one line that lists how to find the right one."""
    result = runner.invoke(build_app([]), ["runs", "report", "no-such-run"])
    assert result.exit_code == 2
    assert "no-such-run" in result.stderr and len(result.stderr.strip().splitlines()) == 1
