"""The W&B client boundary: a small Protocol, the real client (public wandb API only), a fake.

`WandbTracker` and `sync` talk to W&B only through `WandbClient`, so their logic is unit
tested against `FakeWandbClient` (which records every call and argument, and mimics W&B's
offline rule that `use_artifact` raises) and run for real against wandb's offline mode.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from kit_config import scrub_secrets

__all__ = [
    "FakeWandbClient",
    "FakeWandbRun",
    "RealWandbClient",
    "WandbArtifactSpec",
    "WandbClient",
    "WandbInitArgs",
    "WandbRunHandle",
]


@attrs.frozen(kw_only=True)
class WandbInitArgs:
    """Arguments of one `wandb.init` call."""

    project: str
    entity: str | None
    run_id: str
    name: str
    config: Mapping[str, Any]
    tags: tuple[str, ...]
    job_type: str
    group: str | None = None
    mode: str = "online"  # "online" | "offline"
    dir: str | None = None
    timeout_s: float = 8.0


@attrs.frozen(kw_only=True)
class WandbArtifactSpec:
    """A reference artifact: W&B stores where the data is, never a copy of it."""

    name: str
    type: str
    reference: str  # file:///abs/path, s3://..., or any URI W&B only tracks
    metadata: Mapping[str, Any]


class WandbRunHandle(Protocol):
    """One open W&B run."""

    @property
    def id(self) -> str:
        """The W&B run id."""
        ...

    @property
    def url(self) -> str | None:
        """The run page, None offline."""
        ...

    def log(self, metrics: Mapping[str, float], step: int | None) -> None:
        """Log metrics."""
        ...

    def add_tags(self, tags: tuple[str, ...]) -> None:
        """Add tags."""
        ...

    def log_artifact(self, spec: WandbArtifactSpec, aliases: tuple[str, ...]) -> None:
        """Log an output artifact."""
        ...

    def use_artifact(self, spec: WandbArtifactSpec) -> None:
        """Declare an input artifact (raises offline, as W&B does)."""
        ...

    def finish(self, exit_code: int) -> None:
        """Close the run."""
        ...


class WandbClient(Protocol):
    """Opens W&B runs and fetches W&B artifacts."""

    def init(self, args: WandbInitArgs) -> WandbRunHandle:
        """Open (or resume) a run."""
        ...

    def fetch_artifact(self, qualified_name: str, download_root: str) -> str:
        """Local path of `entity/project/name:version`: its file:// reference, or a download."""
        ...


class _RealRun:
    def __init__(self, run: Any) -> None:
        self._run = run

    @property
    def id(self) -> str:
        return str(self._run.id)

    @property
    def url(self) -> str | None:
        url = getattr(self._run, "url", None)
        return str(url) if url else None

    def log(self, metrics: Mapping[str, float], step: int | None) -> None:
        self._run.log(dict(metrics), step=step)

    def add_tags(self, tags: tuple[str, ...]) -> None:
        self._run.tags = tuple(dict.fromkeys([*(self._run.tags or ()), *tags]))

    @staticmethod
    def _artifact(spec: WandbArtifactSpec) -> Any:
        import wandb

        artifact = wandb.Artifact(spec.name, type=spec.type, metadata=dict(spec.metadata))
        # checksum=False: W&B records the location without reading terabytes of shards.
        artifact.add_reference(spec.reference, checksum=False)
        return artifact

    def log_artifact(self, spec: WandbArtifactSpec, aliases: tuple[str, ...]) -> None:
        self._run.log_artifact(self._artifact(spec), aliases=list(aliases))

    def use_artifact(self, spec: WandbArtifactSpec) -> None:
        self._run.use_artifact(self._artifact(spec))

    def finish(self, exit_code: int) -> None:
        self._run.finish(exit_code=exit_code)


class RealWandbClient:
    """The real W&B, through its public API only (`wandb.init`, `Artifact`, `Api`)."""

    def init(self, args: WandbInitArgs) -> WandbRunHandle:
        """Call `wandb.init` with a bounded init timeout; resumes a run with the same id."""
        import wandb

        if args.dir:
            Path(args.dir).mkdir(parents=True, exist_ok=True)
        # W&B copies sys.argv into its run metadata; when argv carries a secret (an
        # override like wandb.api_key=...), skip W&B's metadata rather than leak it.
        argv_has_secret = scrub_secrets(list(sys.argv)) != list(sys.argv)
        settings = wandb.Settings(
            init_timeout=args.timeout_s, silent=True, x_disable_meta=argv_has_secret
        )
        run = wandb.init(
            project=args.project,
            entity=args.entity,
            id=args.run_id,
            name=args.name,
            config=dict(args.config),
            tags=list(args.tags),
            job_type=args.job_type,
            group=args.group,
            mode=args.mode,  # type: ignore[arg-type]
            dir=args.dir,
            resume="allow",
            reinit="create_new",
            settings=settings,
        )
        return _RealRun(run)

    def fetch_artifact(self, qualified_name: str, download_root: str) -> str:
        """Resolve through `wandb.Api().artifact`; reference artifacts need no download."""
        import wandb

        artifact = wandb.Api().artifact(qualified_name)
        for entry in artifact.manifest.entries.values():
            ref = getattr(entry, "ref", None)
            if ref and str(ref).startswith("file://"):
                return str(ref)[len("file://") :]
        target = Path(download_root) / qualified_name.replace(":", "/")
        return str(artifact.download(root=str(target)))


@attrs.define
class FakeWandbRun:
    """What the fake client recorded for one run."""

    args: WandbInitArgs
    offline: bool
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    fail: dict[str, BaseException] = attrs.field(factory=dict)
    finished_with: int | None = None

    @property
    def id(self) -> str:
        return self.args.run_id

    @property
    def url(self) -> str | None:
        if self.offline:
            return None
        return f"https://wandb.fake/{self.args.entity}/{self.args.project}/runs/{self.id}"

    def _call(self, op: str, **kwargs: Any) -> None:
        if op in self.fail:
            raise self.fail[op]
        self.calls.append((op, kwargs))

    def log(self, metrics: Mapping[str, float], step: int | None) -> None:
        self._call("log", metrics=dict(metrics), step=step)

    def add_tags(self, tags: tuple[str, ...]) -> None:
        self._call("add_tags", tags=tags)

    def log_artifact(self, spec: WandbArtifactSpec, aliases: tuple[str, ...]) -> None:
        self._call("log_artifact", spec=spec, aliases=aliases)

    def use_artifact(self, spec: WandbArtifactSpec) -> None:
        if self.offline:  # what real W&B does
            raise TypeError("Cannot use artifact when in offline mode.")
        self._call("use_artifact", spec=spec)

    def finish(self, exit_code: int) -> None:
        self._call("finish", exit_code=exit_code)
        self.finished_with = exit_code

    def ops(self) -> list[str]:
        """Operation names in call order."""
        return [op for op, _ in self.calls]


class FakeWandbClient:
    """In-memory W&B: every `init` is kept in `runs`; `fail` makes operations raise.

    `fail={"init": ConnectionError(...)}` fails init; other keys fail that run operation.
    `artifacts` maps a qualified name to the local path `fetch_artifact` returns.
    """

    def __init__(
        self,
        *,
        fail: Mapping[str, BaseException] | None = None,
        artifacts: Mapping[str, str] | None = None,
    ) -> None:
        self.fail = dict(fail or {})
        self.artifacts = dict(artifacts or {})
        self.runs: list[FakeWandbRun] = []
        self.fetched: list[str] = []

    def init(self, args: WandbInitArgs) -> WandbRunHandle:
        """Record the init; honour `mode=offline` like W&B does."""
        if "init" in self.fail:
            raise self.fail["init"]
        run = FakeWandbRun(args=args, offline=args.mode == "offline", fail=self.fail)
        self.runs.append(run)
        return run

    def fetch_artifact(self, qualified_name: str, download_root: str) -> str:
        """Return the configured path; LookupError for unknown artifacts."""
        self.fetched.append(qualified_name)
        if qualified_name not in self.artifacts:
            raise LookupError(f"artifact {qualified_name} not found")
        return self.artifacts[qualified_name]

