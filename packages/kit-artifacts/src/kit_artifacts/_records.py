"""Version records (`version.json`): the type, parsing, and the W&B-form hand-off."""

from __future__ import annotations

from typing import Any

import attrs

from kit_artifacts import hooks
from kit_artifacts._ref import ArtifactRef
from kit_artifacts._uri import WandbArtURI, parse_art_uri
from kit_artifacts.errors import ArtifactMetadataError, ArtifactURIError

__all__ = ["RECORD_FORMAT", "VersionRecord", "parse_record", "resolve_remote"]

# /2 added `producer.code_digest` and `run_inputs` (a version of an implicit run points at
# the run's input log instead of copying it); /1 records read the same way.
RECORD_FORMAT = "kit-artifacts/version-record/2"


@attrs.frozen
class VersionRecord:
    """Everything recorded about one published version."""

    name: str
    version: int
    type: str
    path: str
    created_at: str
    inputs: tuple[str, ...]
    producer: hooks.Producer
    artifact: dict[str, Any] = attrs.field(eq=False)
    manifest: str | None = None
    integrity: dict[str, Any] | None = None
    copied: bool = False
    # (implicit run id, how many of its inputs this version had seen): the inputs live in
    # the run's log; `ArtifactRegistry.record` follows the pointer into `inputs`.
    run_inputs: tuple[str, int] | None = None

    @property
    def ref(self) -> ArtifactRef:
        """The pinned reference to this version."""
        return ArtifactRef(self.name, self.version, self.path, self.type)

    @property
    def uri(self) -> str:
        """`art://name:vN`."""
        return f"art://{self.name}:v{self.version}"


def resolve_remote(uri: str) -> str | None:
    """Local path for a W&B-form URI through kit-track's resolver; None for registry URIs."""
    if not isinstance(uri, str) or not uri.startswith("art://"):
        return None
    parsed = parse_art_uri(uri)
    if not isinstance(parsed, WandbArtURI):
        return None
    resolver = hooks.get_remote_resolver()
    if resolver is None:
        raise ArtifactURIError(
            f"{uri} is a W&B artifact URI but no W&B resolver is registered",
            uri=uri,
            hint="W&B support needs kit-track and wandb installed (kit_track registers it), "
            "or use a registry URI art://NAME:VERSION",
        )
    return resolver(parsed.entity, parsed.project, parsed.name, parsed.version)


def _run_inputs(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    return str(value["run_id"]), int(value["count"])


def parse_record(data: Any, name: str, version: int, where: str) -> VersionRecord:
    """Build a `VersionRecord` from parsed JSON; a malformed record names its file."""
    try:
        prod = data["producer"]
        return VersionRecord(
            name=name,
            version=version,
            type=str(data["type"]),
            path=str(data["path"]),
            created_at=str(data["created_at"]),
            inputs=tuple(str(i) for i in data.get("inputs", ())),
            producer=hooks.Producer(
                run_id=str(prod["run_id"]),
                argv=tuple(prod.get("argv", ())),
                git_commit=prod.get("git_commit"),
                git_dirty=prod.get("git_dirty"),
                config_digest=prod.get("config_digest"),
                code_digest=prod.get("code_digest"),
            ),
            artifact=dict(data["artifact"]),
            manifest=data.get("manifest"),
            integrity=data.get("integrity"),
            copied=bool(data.get("copied", False)),
            run_inputs=_run_inputs(data.get("run_inputs")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactMetadataError(
            f"malformed version record {where}: {type(exc).__name__} {exc}",
            path=where,
            hint="restore the file or remove the version directory",
        ) from exc
