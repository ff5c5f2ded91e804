"""The report in a real browser: headless Chromium, networking off, assertions on its DOM.

Needs /usr/bin/chromium (`.ci/run` installs Debian's package); skips with SERVICE-MISSING
otherwise, which CI counts as a failure. The screenshot goes to `dist/report-screenshot.png`
(under Pants: the sandbox's `extra-output/`, which Pants copies into `dist/`).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kit_cli import write_art_report
from test_kit_cli.headless import CHROMIUM, Element, dump_dom, parse_dom, screenshot
from test_kit_cli.report_lineage import build_tiny_pipeline

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"SERVICE-MISSING: {CHROMIUM} not found (apt-get install -y chromium; "
           ".ci/run installs it)",
)

_ROOT = Path(__file__).resolve().parents[2]


def _screenshot_path() -> Path:
    in_checkout = (_ROOT / "pants.toml").is_file()
    return (_ROOT / "dist" if in_checkout else _ROOT / "extra-output") / "report-screenshot.png"


def _rendered(page: Path) -> Element:
    dom = parse_dom(dump_dom(page))
    (body,) = dom.find("body")
    assert body.attributes.get("data-rendered") == "ok", body.attributes
    return dom


def test_report_renders_graph_and_every_logged_point(tmp_path: Path, isolated_home: Path) -> None:
    """Every artifact, run and edge is drawn; each run's loss curve has all its points."""
    tiny = build_tiny_pipeline(tmp_path / "data")
    page = write_art_report(tiny.final, tmp_path / "report.html")
    dom = _rendered(page)
    drawn = {g.attributes["data-id"] for g in dom.find("g", "node")
             if g.find("rect") or g.find("ellipse")}
    assert drawn == set(tiny.artifacts) | {f"run:{r}" for r in tiny.runs}
    edges = {(p.attributes["data-source"], p.attributes["data-target"])
             for p in dom.find("path", "edge") if p.attributes.get("d")}
    assert edges == set(tiny.edges)
    (loss,) = (d for d in dom.find("div", "plot") if d.attributes["data-metric"] == "train/loss")
    # plotly draws one `g.trace` per trace (in order) and one legend entry per trace.
    names = [t.text for t in loss.find("text", "legendtext")]
    points = [len(trace.find("path", "point")) for trace in loss.find("g", "trace")]
    drawn_counts = {name.rsplit(" ", 1)[-1]: n for name, n in zip(names, points, strict=True)}
    assert drawn_counts == {run: n for run, n in tiny.loss_points.items() if n}
    shot = _screenshot_path()
    screenshot(page, shot)
    assert shot.stat().st_size > 10_000


def test_report_with_missing_run_folder_and_corrupt_line_renders(
        tmp_path: Path, isolated_home: Path) -> None:
    """A missing run folder and a torn metrics line are stated; the plots still render."""
    import shutil

    tiny = build_tiny_pipeline(tmp_path / "data")
    by_stage = {stage: run for run, stage in tiny.runs.items()}
    shutil.rmtree(isolated_home / "runs" / by_stage["sft"])
    metrics = isolated_home / "runs" / by_stage["pretrain"] / "metrics.jsonl"
    metrics.write_text(metrics.read_text().replace("\n", "\n{not json\n", 1))
    dom = _rendered(write_art_report(tiny.final, tmp_path / "report.html"))
    problems = " ".join(li.text_content() for li in dom.find("li", "problem"))
    assert f"run {by_stage['sft']}" in problems and "run record missing" in problems
    assert "corrupt metrics line skipped" in problems
    (loss,) = (d for d in dom.find("div", "plot") if d.attributes["data-metric"] == "train/loss")
    assert sorted(len(t.find("path", "point")) for t in loss.find("g", "trace")) == sorted(
        n for run, n in tiny.loss_points.items() if n and run != by_stage["sft"])
