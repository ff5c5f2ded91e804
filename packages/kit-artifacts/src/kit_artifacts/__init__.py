"""kit-artifacts: typed artifacts, a concurrency-safe registry, `art://` URIs and lineage.

Importing the package registers the `${art:...}` resolver with kit-config.
"""

from __future__ import annotations

from kit_artifacts import hooks
from kit_artifacts._artifacts import (
    Artifact,
    artifact_type,
    artifact_types,
    register_artifact_type,
)
from kit_artifacts._fsspec_storage import FsspecStorage
from kit_artifacts._gc import GcReport, gc
from kit_artifacts._inputs import is_artifact_type, structure_artifact, unstructure_artifact
from kit_artifacts._integrity import Manifest, VerifyReport
from kit_artifacts._lineage import LineageEdge, LineageGraph, LineageNode, lineage
from kit_artifacts._memory_storage import MemoryStorage
from kit_artifacts._records import VersionRecord
from kit_artifacts._ref import ArtifactRef
from kit_artifacts._refs import PinnedInput, escape_refs, find_refs, pin_refs
from kit_artifacts._registry import ArtifactRegistry, get_registry
from kit_artifacts._resolver import clear_pins, pinned_refs, resolve_art
from kit_artifacts._storage import LocalStorage, Storage
from kit_artifacts._typed import (
    InputDatasetInfo,
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from kit_artifacts._uri import ArtURI, WandbArtURI, parse_art_uri
from kit_artifacts.errors import (
    ArtifactError,
    ArtifactMetadataError,
    ArtifactNotFoundError,
    ArtifactTypeError,
    ArtifactURIError,
    IntegrityError,
    RegistryError,
)
from kit_artifacts.hooks import register_remote_resolver

__all__ = [
    "ArtURI",
    "Artifact",
    "ArtifactError",
    "ArtifactMetadataError",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactRegistry",
    "ArtifactTypeError",
    "ArtifactURIError",
    "FsspecStorage",
    "GcReport",
    "InputDatasetInfo",
    "IntegrityError",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "LocalStorage",
    "Manifest",
    "MemoryStorage",
    "ModelArtifact",
    "PinnedInput",
    "PretrainBlendsArtifact",
    "RegistryError",
    "SFTDataArtifact",
    "SplitJsonlDataArtifact",
    "Storage",
    "VerifyReport",
    "VersionRecord",
    "WandbArtURI",
    "artifact_type",
    "artifact_types",
    "clear_pins",
    "escape_refs",
    "find_refs",
    "gc",
    "get_registry",
    "hooks",
    "lineage",
    "parse_art_uri",
    "pin_refs",
    "pinned_refs",
    "register_artifact_type",
    "register_remote_resolver",
    "resolve_art",
    "verify",
]


def verify(uri: str | ArtifactRef, *, registry: ArtifactRegistry | None = None) -> VerifyReport:
    """Re-hash a version's files against its manifest: missing, changed and extra files."""
    return (registry if registry is not None else get_registry()).verify(uri)


def _register_with_kit_config() -> None:
    from kit_config import register_resolver, register_structure_hook

    register_resolver("art", resolve_art, replace=True)
    register_structure_hook(is_artifact_type, structure_artifact, unstructure=unstructure_artifact)


_register_with_kit_config()
