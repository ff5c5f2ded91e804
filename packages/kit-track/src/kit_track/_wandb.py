"""`WandbTracker`: mirrors the run record to W&B, offline-first, never blocking a launch.

Online: run (config, tags, job type), metrics, outputs as reference artifacts (W&B
stores the location on shared storage, not a copy), inputs through `use_artifact`.
Offline (`WANDB_MODE=offline`): W&B records the run, metrics and outputs in its local
directory; `use_artifact` is impossible offline, so inputs are queued in
`wandb_pending.jsonl` and `sync` replays them later from the local record.
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from kit_track._credentials import wandb_api_key
from kit_track._env import utc_now
from kit_track._jsonio import append_jsonl
from kit_track._protocol import RunInfo, RunStatus
from kit_track._records import RunRecord
from kit_track._wandb_client import RealWandbClient, WandbClient, WandbInitArgs, WandbRunHandle
from kit_track._wandb_state import SyncState, artifact_spec, load_state, save_state
from kit_track.errors import CredentialsError, TrackerConfigError

__all__ = ["PENDING_FILE", "WandbTracker", "call_with_deadline", "probe_wandb_server", "provenance"]

PENDING_FILE = "wandb_pending.jsonl"
_T = TypeVar("_T")
_MODES = {"online": "online", "offline": "offline", "dryrun": "offline", "disabled": "disabled"}
# Save the sync state every N metric lines, so a killed online run is resumed near its end.
_STATE_EVERY = 50


def probe_wandb_server(timeout_s: float = 2.0) -> None:
    """Raise ConnectionError within `timeout_s` if the W&B server (or proxy) is unreachable.

    wandb.init against a dead server retries for ~14 s even with a 3 s init timeout;
    one TCP connect tells us in milliseconds.
    """
    env = os.environ
    url = env.get("WANDB_BASE_URL") or "https://api.wandb.ai"
    parsed = urlparse(url)
    scheme = parsed.scheme or "https"
    host = parsed.hostname or "api.wandb.ai"
    port = parsed.port or (443 if scheme == "https" else 80)
    no_proxy = env.get("NO_PROXY", env.get("no_proxy", ""))
    proxy = env.get(f"{scheme.upper()}_PROXY") or env.get(f"{scheme}_proxy")
    if proxy and not any(host.endswith(p.strip()) for p in no_proxy.split(",") if p.strip()):
        proxied = urlparse(proxy)
        host, port = proxied.hostname or host, proxied.port or 3128
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConnectionError(f"W&B server {url} unreachable ({exc})") from exc


def call_with_deadline(
    fn: Callable[[], _T], timeout_s: float, on_late: Callable[[_T], None] | None = None
) -> _T:
    """Run `fn` in a daemon thread; TimeoutError after `timeout_s` (a late result goes to
    `on_late`, so an init that completes after we gave up still gets closed)."""
    result: dict[str, object] = {}
    done = threading.Event()
    abandoned = threading.Event()

    def target() -> None:
        try:
            value = fn()
        except BaseException as exc:  # carried to the caller's thread
            result["error"] = exc
        else:
            result["value"] = value
            if abandoned.is_set() and on_late is not None:
                on_late(value)
        finally:
            done.set()

    threading.Thread(target=target, name="kit-track-deadline", daemon=True).start()
    if not done.wait(timeout_s):
        abandoned.set()
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]


def provenance(run: RunInfo | RunRecord) -> dict[str, object]:
    """What W&B shows about the code and config behind a run, live or recorded (argv
    already scrubbed)."""
    return {
        "run_id": run.run_id,
        "stage": run.stage,
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "code_digest": run.code_digest,
        "config_digest": run.config_digest,
        "argv": list(run.argv),
        "host": run.host,
    }


class WandbTracker:
    """Mirror of the run on W&B (rank 0 only). Parameters fall back to `WANDB_*` env."""

    name = "wandb"

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        *,
        client: WandbClient | None = None,
        mode: str | None = None,
        timeout_s: float = 8.0,
        job_type: str | None = None,
        group: str | None = None,
        dir: str | None = None,
        probe: bool | None = None,
        tags: Sequence[str] = (),
    ) -> None:
        self.project = project
        self.entity = entity
        self.client: WandbClient = client if client is not None else RealWandbClient()
        self.mode = mode
        self.timeout_s = timeout_s
        self.job_type = job_type
        self.group = group
        self.dir = dir
        self.tags = tuple(tags)  # added to the run's own tags
        self.probe = client is None if probe is None else probe
        self.handle: WandbRunHandle | None = None
        self.pending: list[dict[str, str]] = []
        self._run: RunInfo | None = None
        self._state = SyncState()
        self._offline = False
        self._metrics_gap = False

    @property
    def offline(self) -> bool:
        """Whether the W&B run is in offline mode."""
        return self._offline

    @property
    def url(self) -> str | None:
        """The W&B run page (None offline or before start)."""
        return self.handle.url if self.handle is not None else None

    def _resolve_mode(self) -> str:
        raw = (self.mode or os.environ.get("WANDB_MODE") or "online").lower()
        if raw not in _MODES:
            raise TrackerConfigError("wandb.mode", raw, f"must be one of {sorted(_MODES)}")
        return _MODES[raw]

    def start(self, run: RunInfo) -> None:
        """Open the W&B run; raises quickly (no key, unreachable, timeout) instead of hanging."""
        self._run = run
        if not run.is_rank_zero:
            return
        mode = self._resolve_mode()
        if mode == "disabled":
            return
        project = self.project or os.environ.get("WANDB_PROJECT")
        if not project:
            raise TrackerConfigError(
                "wandb.project", None, "no W&B project configured",
                hint="set wandb.project in the config or env.toml, or WANDB_PROJECT",
            )
        entity = self.entity or os.environ.get("WANDB_ENTITY") or None
        self._offline = mode == "offline"
        if not self._offline:
            if not wandb_api_key():
                from kit_track._credentials import wandb_host

                raise CredentialsError("W&B", "WANDB_API_KEY", wandb_host())
            if self.probe:
                probe_wandb_server(min(2.0, self.timeout_s))
        args = WandbInitArgs(
            project=project,
            entity=entity,
            run_id=run.run_id,
            name=run.name,
            config={**run.config, "_nemotron": provenance(run)},
            tags=tuple(dict.fromkeys([*run.tags, *self.tags])),
            job_type=self.job_type or run.stage,
            group=self.group,
            mode=mode,
            dir=self.dir or os.environ.get("WANDB_DIR") or run.run_dir,
            timeout_s=self.timeout_s,
        )

        def close_late(handle: WandbRunHandle) -> None:
            handle.finish(1)

        self.handle = call_with_deadline(
            lambda: self.client.init(args), self.timeout_s + 2.0, on_late=close_late
        )
        self._state = load_state(run.run_dir)
        # Offline too: `sync` later sends the run to the project it was meant for.
        self._state.project, self._state.entity = project, entity
        if not self._offline:
            self._state.wandb_run_id, self._state.url = self.handle.id, self.handle.url
            self._state.config = True
        save_state(run.run_dir, self._state)

    def _live(self) -> tuple[RunInfo, WandbRunHandle] | None:
        if self._run is None or self.handle is None:
            return None
        return self._run, self.handle

    def log_input(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Online: `use_artifact`; offline: queue it for `sync`."""
        live = self._live()
        if live is None:
            return
        run, handle = live
        if self._offline:
            entry = {"uri": uri, "artifact_type": artifact_type, "path": path, "time": utc_now()}
            self.pending.append(entry)
            if run.run_dir:
                append_jsonl(Path(run.run_dir) / PENDING_FILE, entry)
            return
        spec, _ = artifact_spec(uri, artifact_type, path, run.run_id)
        handle.use_artifact(spec)
        self._state.inputs.append(uri)
        save_state(run.run_dir, self._state)

    def log_output(self, uri: str, *, artifact_type: str, path: str) -> None:
        """Log a reference artifact (works offline too)."""
        live = self._live()
        if live is None:
            return
        run, handle = live
        spec, aliases = artifact_spec(uri, artifact_type, path, run.run_id)
        handle.log_artifact(spec, aliases)
        if not self._offline:
            self._state.outputs.append(uri)
            save_state(run.run_dir, self._state)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics; count contiguous successes so `sync` can resume after a gap."""
        live = self._live()
        if live is None:
            return
        run, handle = live
        try:
            handle.log(metrics, step)
        except Exception:
            self._metrics_gap = True
            raise
        if not self._offline and not self._metrics_gap:
            self._state.metrics += 1
            if self._state.metrics % _STATE_EVERY == 0:
                save_state(run.run_dir, self._state)

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Add tags to the W&B run."""
        live = self._live()
        if live is not None:
            live[1].add_tags(tags)

    def finish(self, status: RunStatus, exit_code: int = 0) -> None:
        """Finish the W&B run with the run's exit code."""
        live = self._live()
        if live is None:
            return
        run, handle = live
        self.handle = None
        handle.finish(exit_code)
        if not self._offline:
            self._state.finished = True
            save_state(run.run_dir, self._state)
