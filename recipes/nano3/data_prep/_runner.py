"""Shard execution shared by the three stages: receipts, ranks, workers, progress.

* The run hash (`kit_config.config_digest` of the plan, `_stage.py`) covers everything that
  decides the output bytes (blend spec, input fingerprints, tokenizer digest, settings,
  sample spec), never the number of workers or ranks; the output directory is named by it,
  so a changed input never mixes with old shards.
* Each finished shard writes a receipt (atomically, after its data files are in place). A
  restart skips shards whose receipt and files are intact; a killed shard left only temp
  files, which are overwritten.
* Task `rank` of `world_size` takes shards `i % world_size == rank`; rank 0 then waits for
  every receipt and merges once. Locally, `num_workers` forked processes share the rank's
  shards.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

import kit_config
from nano3.data_prep._inputs import WorkShard
from nano3.data_prep.errors import MergeTimeoutError

__all__ = [
    "ProgressSink",
    "ShardProcessor",
    "load_receipts",
    "resolve_rank",
    "run_shards",
    "wait_for_receipts",
]


def resolve_rank(rank: int | None, world_size: int | None,
                 env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(rank, world size) from the config, else the environment (kit-config's one order)."""
    if rank is not None or world_size is not None:
        return rank or 0, world_size or 1
    return kit_config.process_rank(env), kit_config.world_size(env)


class ProgressSink(Protocol):
    """Receives progress as shards are processed (input bytes and output tokens)."""

    def advance(self, nbytes: int, ntokens: int) -> None:
        """Add work done since the last call."""
        ...


class ShardProcessor(Protocol):
    """A stage's per-shard work: writes the shard's outputs, returns its receipt body."""

    def process(self, shard: WorkShard, out_dir: Path, sink: ProgressSink) -> dict[str, Any]:
        """Process one shard; output files must be in place (atomically) on return."""
        ...


def _receipt_path(out_dir: Path, shard: WorkShard) -> Path:
    return out_dir / "receipts" / f"{shard.key}.json"


def _shard_identity(shard: WorkShard) -> dict[str, Any]:
    return {"url": shard.file.url, "fingerprint": shard.file.fingerprint,
            "start": shard.start, "end": shard.end}


def _receipt_valid(out_dir: Path, shard: WorkShard) -> dict[str, Any] | None:
    path = _receipt_path(out_dir, shard)
    try:
        receipt: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if receipt.get("shard") != _shard_identity(shard):
        return None
    for rel, size in receipt.get("outputs", {}).items():
        p = out_dir / rel
        if not p.is_file() or p.stat().st_size != size:
            return None
    return receipt


def _finish(out_dir: Path, shard: WorkShard, body: dict[str, Any]) -> None:
    outputs = {rel: (out_dir / rel).stat().st_size for rel in body.pop("output_files", [])}
    receipt = {"key": shard.key, "shard": _shard_identity(shard), "outputs": outputs, **body}
    kit_config.atomic_write_json(_receipt_path(out_dir, shard), receipt, sort_keys=True)


class _QueueSink:
    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def advance(self, nbytes: int, ntokens: int) -> None:
        self.queue.put((nbytes, ntokens))


# Set in the parent before forking; workers inherit it (no pickling of tokenizers).
_WORKER_STATE: dict[str, Any] = {}


def _worker_init() -> None:
    # One core per worker process: HF tokenizers' own thread pool inside each of P workers
    # would oversubscribe the machine (P x cores threads). Read by tokenizers at each call.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _worker_run(shard: WorkShard) -> str:
    proc: ShardProcessor = _WORKER_STATE["processor"]
    out_dir: Path = _WORKER_STATE["out_dir"]
    body = proc.process(shard, out_dir, _QueueSink(_WORKER_STATE["queue"]))
    _finish(out_dir, shard, body)
    return shard.key


class _RichProgress:
    """tokens/s and ETA over input bytes on a TTY; elsewhere (Slurm logs, pipes) one summary
    line on stderr, and rich is not even imported (~0.06 s of every batch run)."""

    def __init__(self, total_bytes: int, label: str, enabled: bool) -> None:
        self.progress: Any = None  # a rich Progress on a TTY, else None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                TextColumn("{task.fields[tps]} tok/s"), TimeRemainingColumn(),
                console=Console(stderr=True))
            self.task = self.progress.add_task(label, total=total_bytes, tps="-")
        self.label = label
        self.tokens = 0
        self.t0 = time.monotonic()

    def advance(self, nbytes: int, ntokens: int) -> None:
        self.tokens += ntokens
        if self.progress is not None:
            rate = self.tokens / max(time.monotonic() - self.t0, 1e-9)
            self.progress.update(self.task, advance=nbytes, tps=f"{rate / 1e6:.2f}M")

    def __enter__(self) -> _RichProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
        elif self.tokens:  # batch logs (Slurm): one summary line
            dt = max(time.monotonic() - self.t0, 1e-9)
            print(f"{self.label}: {self.tokens:,} tokens in {dt:.1f}s "
                  f"({self.tokens / dt / 1e6:.2f}M tokens/s)", file=sys.stderr, flush=True)


def run_shards(processor: ShardProcessor, shards: Sequence[WorkShard], out_dir: Path, *,
               rank: int, world_size: int, num_workers: int, progress: bool,
               label: str) -> list[str]:
    """Process this rank's unfinished shards; returns the keys processed now (not skipped)."""
    mine = [s for s in shards if s.index % world_size == rank]
    todo = [s for s in mine if _receipt_valid(out_dir, s) is None]
    total = sum(max(s.end - s.start, 0) if s.file.format != "parquet" else s.file.size
                for s in todo)
    with _RichProgress(total, label, progress) as bar:
        if num_workers <= 1 or len(todo) <= 1:
            for shard in todo:
                _finish(out_dir, shard, processor.process(shard, out_dir, bar))
            return [s.key for s in todo]
        return _run_pool(processor, todo, out_dir, num_workers, bar)


def _run_pool(processor: ShardProcessor, todo: Sequence[WorkShard], out_dir: Path,
              num_workers: int, bar: _RichProgress) -> list[str]:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    _WORKER_STATE.update(processor=processor, out_dir=out_dir, queue=queue)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set() or not queue.empty():
            try:
                nbytes, ntokens = queue.get(timeout=0.1)
            except Exception:  # queue.Empty: poll again
                continue
            bar.advance(nbytes, ntokens)

    done: list[str] = []
    # concurrent.futures, not multiprocessing.Pool: on a worker's error, Pool.terminate()
    # SIGTERMs workers that may hold the result queue's lock, and its task thread then waits
    # on that lock (a 10-minute stall was seen in CI). The executor cancels what has not
    # started and lets running shards finish, whose receipts a rerun then reuses.
    executor = ProcessPoolExecutor(min(num_workers, len(todo)), mp_context=ctx,
                                   initializer=_worker_init)
    thread = threading.Thread(target=drain, daemon=True)
    try:
        futures = [executor.submit(_worker_run, shard) for shard in todo]
        # Started after the first submit has forked every worker: a thread running at fork
        # time (holding the queue's or stdout's lock) is copied into a worker as a held lock.
        thread.start()
        for future in as_completed(futures):
            done.append(future.result())
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        stop.set()
        if thread.is_alive():
            thread.join()
        _WORKER_STATE.clear()
    return sorted(done)


def load_receipts(out_dir: Path, shards: Iterable[WorkShard]) -> dict[str, dict[str, Any]]:
    """Valid receipts of the given shards, by shard key (missing ones are absent)."""
    found = {}
    for s in shards:
        r = _receipt_valid(out_dir, s)
        if r is not None:
            found[s.key] = r
    return found


def wait_for_receipts(out_dir: Path, shards: Sequence[WorkShard], timeout_s: float, *,
                      poll_s: float = 0.2,
                      clock: Callable[[], float] = time.monotonic) -> list[dict[str, Any]]:
    """Block until every shard has a valid receipt (other ranks finishing), in shard order."""
    deadline = clock() + timeout_s
    while True:
        found = load_receipts(out_dir, shards)
        missing = [s.key for s in shards if s.key not in found]
        if not missing:
            return [found[s.key] for s in shards]
        if clock() >= deadline:
            raise MergeTimeoutError(str(out_dir), missing, timeout_s)
        time.sleep(poll_s)
