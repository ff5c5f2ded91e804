"""Benchmark: size of the offline run report and its render time in headless Chromium.

Builds the tiny pipeline-shaped lineage of the browser test (real registry publishes and
FileTracker runs, 5 artifacts, 5 runs, 5 metrics) in a temp NEMOTRON_HOME, writes its report,
then loads it in headless Chromium with networking off (best of REPEAT). Render time is what
the page itself records when its last plot is drawn (`performance.now()` since navigation,
real time: no virtual-time budget); the whole browser run is also timed next to a blank page
as the baseline (browser start-up and exit cancel out in the difference).

    python bench/report_render.py             # needs /usr/bin/chromium
    python bench/report_render.py --repeat 5

Targets (issue: offline report): under 5 MB, renders in under 2 s on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from test_kit_cli.headless import CHROMIUM, chromium, parse_dom
from test_kit_cli.report_lineage import build_tiny_pipeline


def _load(page: Path, repeat: int) -> tuple[float, float, str]:
    """Best wall seconds of a Chromium run, best render ms the page recorded, its state."""
    best, best_ms, state = float("inf"), float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = chromium(page, "--dump-dom")  # dumps after the load event: scripts have run
        best = min(best, time.perf_counter() - start)
        body = parse_dom(done.stdout).find("body")
        attributes = body[0].attributes if body else {}
        state = attributes.get("data-rendered", "")
        if "data-render-ms" in attributes:
            best_ms = min(best_ms, float(attributes["data-render-ms"]))
    return best, best_ms, state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"report_render: {CHROMIUM} not found (apt-get install -y chromium)")
        return 2
    with tempfile.TemporaryDirectory(prefix="kit-bench-report-") as tmp:
        os.environ["NEMOTRON_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("NEMOTRON_ARTIFACTS_ROOT", None)
        from kit_cli import write_art_report

        tiny = build_tiny_pipeline(Path(tmp) / "data")
        start = time.perf_counter()
        page = write_art_report(tiny.final, Path(tmp) / "report.html")
        write_s = time.perf_counter() - start
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!doctype html><html><body>blank</body></html>\n")
        blank_s, _, _ = _load(blank, args.repeat)
        report_s, render_ms, state = _load(page, args.repeat)
        size = page.stat().st_size
        render_s = render_ms / 1000
        print(f"cpus                 {os.cpu_count()}")
        print(f"report size          {size / 1e6:.2f} MB ({size} bytes; target < 5 MB)")
        print(f"report write         {write_s:.2f} s (kit side: lineage, verify, layout, HTML)")
        print(f"chromium blank page  {blank_s:.2f} s (baseline, best of {args.repeat})")
        print(f"chromium report      {report_s:.2f} s ({report_s / blank_s:.2f}x the blank page)")
        print(f"report - blank       {report_s - blank_s:.2f} s")
        print(f"render time          {render_s:.2f} s (navigation to last plot drawn, as the "
              f"page records it; state {state!r}; target < 2 s)")
        ok = size < 5_000_000 and render_s < 2.0 and state == "ok"
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
