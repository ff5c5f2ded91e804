"""What a report shows, gathered from the registry and the FileTracker run folders.

Gathering never fails on a damaged source: a missing run folder, an unreadable run record or
a corrupt metrics line becomes a `problem` that the page states, and the rest still renders.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "MetricSeries",
    "ReportData",
    "ReportNode",
    "RunDetails",
    "collect",
    "metric_order",
    "read_metrics",
]


@attrs.frozen
class MetricSeries:
    """One metric of one run: x (step, or the line's index when no step was logged), y."""

    run_id: str
    metric: str
    x: tuple[float, ...]
    y: tuple[float | None, ...]


@attrs.frozen
class RunDetails:
    """A run's record as the report shows it (config already masked)."""

    status: str
    duration: str
    host: str
    config: Any
    tracker_errors: tuple[str, ...]
    run_dir: str


@attrs.frozen
class ReportNode:
    """A graph node with the facts its details section lists."""

    id: str
    kind: str
    label: str
    facts: tuple[tuple[str, str], ...]
    problems: tuple[str, ...] = ()
    run: RunDetails | None = None


@attrs.frozen
class ReportData:
    """Everything one report page shows."""

    title: str
    nodes: tuple[ReportNode, ...]
    edges: tuple[tuple[str, str], ...]
    metrics: tuple[MetricSeries, ...]


def read_metrics(path: Path, run_id: str) -> tuple[list[MetricSeries], list[str]]:
    """Series per metric from a `metrics.jsonl`; bad lines are skipped and reported."""
    problems: list[str] = []
    xs: dict[str, list[float]] = {}
    ys: dict[str, list[float | None]] = {}
    if not path.is_file():
        return [], []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: corrupt metrics line skipped ({exc.msg})")
            continue
        values = entry.get("metrics") if isinstance(entry, dict) else None
        if not isinstance(values, dict):
            problems.append(f"{path}:{number}: metrics line without a 'metrics' object skipped")
            continue
        step = entry.get("step")
        x = float(step) if isinstance(step, int | float) else float(number - 1)
        for key, value in values.items():
            try:
                y: float | None = float(value)
            except (TypeError, ValueError):
                y = None
            xs.setdefault(str(key), []).append(x)
            ys.setdefault(str(key), []).append(y if y is not None and math.isfinite(y) else None)
    series = [MetricSeries(run_id, k, tuple(xs[k]), tuple(ys[k])) for k in xs]
    return series, problems


def metric_order(name: str) -> tuple[int, bool, str]:
    """Sort key: losses (train before eval), learning rate, throughput, reward, the rest."""
    low = name.lower()
    leaf = low.rsplit("/", 1)[-1]
    groups = (("loss",), ("lr", "learning_rate"), ("tokens",), ("reward",))
    rank = next((i for i, words in enumerate(groups) if any(w in leaf for w in words)),
                len(groups))
    return rank, "eval" in low or low.startswith("val"), low


def _duration(started: str | None, finished: str | None) -> str:
    try:
        start = dt.datetime.fromisoformat(str(started))
        end = dt.datetime.fromisoformat(str(finished)) if finished else None
    except ValueError:
        return "unknown"
    if end is None:
        return "not finished"
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _artifact_node(node: Any, registry: Any, verify: bool) -> ReportNode:
    info: Mapping[str, Any] = node.attrs or {}
    facts = [("uri", node.id), ("type", _text(info.get("type"))), ("path", _text(info.get("path"))),
             ("created", _text(info.get("created_at")))]
    problems: list[str] = []
    try:
        record = registry.record(node.id)
    except Exception as exc:  # a deleted version still has its node; say why facts are missing
        return ReportNode(node.id, "artifact", node.label, tuple(facts),
                          (f"registry record unreadable: {exc}",))
    integrity = record.integrity or {}
    size = integrity.get("bytes")
    facts.append(("version", f"v{record.version}"))
    facts.append(("size", f"{size} bytes in {integrity.get('files')} file(s)"
                  if size is not None else "unknown (no manifest)"))
    status = "not checked"
    if verify and record.manifest is not None:
        try:
            report = registry.verify(record.ref)
            status = (f"ok ({report.checked} files)" if report.ok else
                      f"FAILED: {len(report.missing)} missing, {len(report.changed)} changed, "
                      f"{len(report.extra)} extra")
            if not report.ok:  # listed under Problems too: the data is not what was published
                problems.append(f"integrity {status} (nemotron art verify {record.uri})")
        except Exception as exc:
            status = f"unknown ({exc})"
    elif record.manifest is None:
        status = "no manifest (data was not local at publish)"
    facts.append(("integrity", status))
    producer = record.producer
    facts += [("producer run", producer.run_id),
              ("producer config digest", _text(producer.config_digest)),
              ("producer git commit", _text(producer.git_commit)
               + (" (dirty)" if producer.git_dirty else "")),
              ("producer code digest", _text(producer.code_digest))]
    return ReportNode(node.id, "artifact", node.label, tuple(facts), tuple(problems))


def _run_node(node: Any) -> tuple[ReportNode, list[MetricSeries]]:
    from kit_config import mask_argv, mask_secrets

    info: Mapping[str, Any] = node.attrs or {}
    run_id = str(info.get("run_id") or node.id.removeprefix("run:"))
    # The argv as recorded, its secrets masked again (`--token V`, `KEY=V`: kit_config's rule).
    argv = " ".join(mask_argv([str(a) for a in info.get("argv") or ()]))
    facts = [("run id", run_id), ("argv", argv),
             ("config digest", _text(info.get("config_digest"))),
             ("git commit", _text(info.get("git_commit"))
              + (" (dirty)" if info.get("git_dirty") else "")),
             ("code digest", _text(info.get("code_digest")))]
    if run_id == "local":
        return ReportNode(node.id, "run", node.label, tuple(facts),
                          ("published outside a tracked run: no run record",)), []
    try:
        from kit_track import load_run

        record: Any = load_run(run_id)
    except Exception as exc:  # missing or unreadable run folder: say so, draw the rest
        return ReportNode(node.id, "run", node.label, tuple(facts),
                          (f"run record missing or unreadable: {exc}",)), []
    facts[2:] = [("stage", record.stage),
                 ("config digest", _text(record.config_digest or info.get("config_digest"))),
                 ("git commit", _text(record.git_commit or info.get("git_commit"))
                  + (" (dirty)" if record.git_dirty else "")),
                 ("code digest", _text(record.code_digest or info.get("code_digest")))]
    details = RunDetails(
        status=record.status + (f" (exit {record.exit_code})" if record.exit_code else ""),
        duration=_duration(record.started_at, record.finished_at),
        host=record.host,
        config=mask_secrets(record.config),
        tracker_errors=tuple(f"{e.tracker} {e.operation}: {e.error_type}: {e.message}"
                             + (f" ({e.count} times)" if e.count > 1 else "")
                             for e in record.tracker_errors),
        run_dir=record.run_dir,
    )
    series, problems = read_metrics(Path(record.run_dir) / "metrics.jsonl", run_id)
    label = f"{record.stage} run {run_id}"
    return ReportNode(node.id, "run", label, tuple(facts), tuple(problems), details), series


def collect(title: str, nodes: Iterable[Any], edges: Iterable[tuple[str, str]], *,
            registry: Any, verify: bool = True) -> ReportData:
    """Report data for lineage nodes (`kit_artifacts.LineageNode`) and their edges."""
    out: list[ReportNode] = []
    metrics: list[MetricSeries] = []
    for node in sorted(nodes, key=lambda n: n.id):
        if node.kind == "artifact":
            out.append(_artifact_node(node, registry, verify))
        elif node.kind == "run":
            report_node, series = _run_node(node)
            out.append(report_node)
            metrics += series
        else:
            out.append(ReportNode(node.id, "external", node.label, (("uri", node.id),)))
    return ReportData(title, tuple(out), tuple(sorted(set(edges))), tuple(metrics))
