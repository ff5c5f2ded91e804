"""kit-artifacts: typed artifacts, a concurrency-safe registry, `art://` URIs and lineage."""
from __future__ import annotations

from kit_artifacts import hooks
from kit_artifacts._ref import ArtifactRef
from kit_artifacts.errors import (
    ArtifactError,
    ArtifactMetadataError,
    ArtifactNotFoundError,
    ArtifactTypeError,
    ArtifactURIError,
    IntegrityError,
    RegistryError,
)

__all__ = [
    "ArtifactError",
    "ArtifactMetadataError",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactTypeError",
    "ArtifactURIError",
    "IntegrityError",
    "RegistryError",
    "hooks",
]
