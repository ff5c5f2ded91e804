"""The report page: one HTML file with every script and style inline, no network at view time.

The metric curves are drawn by plotly.js, read from the plotly wheel and embedded whole; a
Content-Security-Policy forbids every fetch, so a page that would reach out fails loudly
instead of quietly depending on the network. When rendering is done the page sets
`data-rendered` (and `data-render-ms`) on `<body>`, which the browser test and bench read.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from kit_cli._report_data import MetricSeries, ReportData, ReportNode, metric_order
from kit_cli._report_svg import render_svg

__all__ = ["render_html"]

_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:")

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}h3{font-size:1em;margin:.2em 0}
.problem{color:#a40000}
svg.lineage{max-width:100%;height:auto;border:1px solid #ddd;background:#fcfcfc}
svg .edge{fill:none;stroke:#888;stroke-width:1.5}
svg marker path{fill:#888}
svg .node rect,svg .node ellipse,svg .node polygon{stroke:#333;stroke-width:1.2}
svg .node-artifact rect{fill:#dbe9fb}svg .node-run ellipse{fill:#fde7c8}
svg .node-external polygon{fill:#eee}svg .has-problem *{stroke:#a40000}
svg text{font-size:12px;fill:#111}svg a:hover text{text-decoration:underline}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:12px}
.plot{min-height:320px;border:1px solid #eee}
.node-details{border-top:1px solid #ddd;padding:.5em 0}
.node-details:target{background:#fffbe0}
table{border-collapse:collapse}td{padding:1px 10px 1px 0;vertical-align:top}
td:first-child{color:#555;white-space:nowrap}pre{background:#f6f6f6;padding:.5em;overflow:auto}
"""

_SCRIPT = """
(function () {
  var body = document.body;
  function done(state) {
    body.setAttribute('data-render-ms', String(Math.round(performance.now())));
    body.setAttribute('data-rendered', state);
  }
  try {
    var data = JSON.parse(document.getElementById('report-data').textContent);
    var config = {displaylogo: false, scrollZoom: true, responsive: true};
    var jobs = data.plots.map(function (p) {
      var traces = p.traces.map(function (t) {
        // A marker per point up to 2000 points (one SVG node each); beyond, the line alone.
        var mode = t.x.length <= 2000 ? 'lines+markers' : 'lines';
        return {type: 'scatter', mode: mode, name: t.name, x: t.x, y: t.y,
                line: {color: t.colour}, marker: {size: 4, color: t.colour},
                connectgaps: false,
                hovertemplate: '%{fullData.name}<br>step %{x}<br>%{y:.5g}<extra></extra>'};
      });
      var layout = {title: {text: p.metric, x: 0.02, xanchor: 'left'}, showlegend: true,
                    height: 320, hovermode: 'closest', margin: {l: 60, r: 20, t: 40, b: 40},
                    xaxis: {title: {text: 'step'}}, legend: {orientation: 'h', y: -0.25}};
      return Plotly.newPlot(p.div, traces, layout, config);
    });
    Promise.all(jobs).then(function () { done('ok'); },
                           function (e) { done('error: ' + e); });
  } catch (e) {
    done('error: ' + e);
  }
})();
"""


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _json_for_script(data: Any) -> str:
    # "</" would end the <script> element early; "<\\/" is the same string in JSON.
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _rows(facts: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<tr><td>{escape(k)}</td><td>{escape(v) or '&ndash;'}</td></tr>"
                   for k, v in facts)


def _details(node: ReportNode, anchor: str) -> str:
    parts = [f'<section class="node-details node-{node.kind}" id="{anchor}" '
             f'data-id="{escape(node.id)}"><h3>{escape(node.kind)}: {escape(node.label)}</h3>',
             f"<table>{_rows(node.facts)}"]
    run = node.run
    if run is not None:
        parts.append(_rows([("status", run.status), ("duration", run.duration),
                            ("host", run.host), ("run folder", run.run_dir)]))
    parts.append("</table>")
    parts += [f'<p class="problem">{escape(p)}</p>' for p in node.problems]
    if run is not None:
        if run.tracker_errors:
            parts.append("<p>tracker errors:</p><ul>" + "".join(
                f'<li class="problem">{escape(e)}</li>' for e in run.tracker_errors) + "</ul>")
        else:
            parts.append("<p>tracker errors: none</p>")
        config = json.dumps(run.config, indent=2, sort_keys=True, default=str)
        parts.append("<details><summary>resolved config (secrets masked)</summary>"
                     f"<pre>{escape(config)}</pre></details>")
    parts.append("</section>")
    return "".join(parts)


# plotly's default colour sequence, fixed per run so a run has one colour in every plot.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def _plots(series: Sequence[MetricSeries], labels: dict[str, str]) -> list[dict[str, Any]]:
    runs = sorted({s.run_id for s in series})
    colour = {run: _COLOURS[i % len(_COLOURS)] for i, run in enumerate(runs)}
    by_metric: dict[str, list[MetricSeries]] = {}
    for s in series:
        by_metric.setdefault(s.metric, []).append(s)
    plots = []
    for index, metric in enumerate(sorted(by_metric, key=metric_order)):
        traces = [{"name": labels.get(s.run_id, s.run_id), "run": s.run_id,
                   "colour": colour[s.run_id], "x": list(s.x), "y": list(s.y)}
                  for s in sorted(by_metric[metric], key=lambda s: s.run_id)]
        plots.append({"div": f"plot-{index}", "metric": metric, "traces": traces})
    return plots


def render_html(data: ReportData) -> str:
    """The whole page as one string."""
    anchors = {node.id: f"node-{i}" for i, node in enumerate(data.nodes)}
    labels = {}
    for node in data.nodes:
        facts = dict(node.facts)
        if node.kind == "run":  # legend: "stage run-id", or the run id alone
            labels[facts["run id"]] = f"{facts.get('stage', '')} {facts['run id']}".strip()
    plots = _plots(data.metrics, labels)
    problems = [(node, p) for node in data.nodes for p in node.problems]
    kinds = [n.kind for n in data.nodes]
    summary = (f"{kinds.count('artifact')} artifact(s), {kinds.count('run')} run(s), "
               f"{len(data.edges)} edge(s), {len(plots)} metric(s)")
    html = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{escape(data.title)}</title><style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>{escape(data.title)}</h1><p id=\"summary\">{escape(summary)}</p>",
    ]
    if problems:
        html.append('<h2>Problems</h2><ul id="problems">' + "".join(
            f'<li class="problem"><a href="#{anchors[n.id]}">{escape(n.label)}</a>: '
            f"{escape(p)}</li>" for n, p in problems) + "</ul>")
    html.append('<h2>Lineage</h2><p>Boxes are artifact versions, ellipses are runs; click a '
                "node for its details.</p>")
    html.append(render_svg(data.nodes, data.edges, anchors))
    html.append("<h2>Metrics</h2>")
    if plots:
        html.append('<div class="plots" id="curves">' + "".join(
            f'<div class="plot" id="{p["div"]}" data-metric="{escape(p["metric"])}"></div>'
            for p in plots) + "</div>")
    else:
        html.append('<p id="curves">No run in this graph logged metrics.</p>')
    html.append('<h2>Details</h2><div id="details">')
    html += [_details(node, anchors[node.id]) for node in data.nodes]
    html.append("</div>")
    html.append('<script type="application/json" id="report-data">'
                f"{_json_for_script({'plots': plots})}</script>")
    html.append(f'<script id="plotly-js">{_plotly_js()}</script>')
    html.append(f"<script>{_SCRIPT}</script>")
    html.append("</body></html>\n")
    return "\n".join(html)
