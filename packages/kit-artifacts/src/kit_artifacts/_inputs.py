"""Typed artifact inputs of configs: a field typed `PretrainBlendsArtifact` gets one.

Registered into kit-config's `structure` (kit-config cannot import kit-artifacts), so a
stage config declares `data: PretrainBlendsArtifact` and receives the loaded artifact
instead of a path whose `metadata.json` it would parse itself. The field accepts:

- `art://NAME[:VER]`: resolved and loaded here, recording ONE `used` event;
- what `${art:NAME[:VER]}` resolves to (the version's data path): the resolver already
  resolved it and recorded the use, so the artifact is only read (`emit=False`);
- any other data path holding a `metadata.json` (read, no lineage: it is not registered).

Failures (bad URI, unknown name or version, wrong artifact type, unreadable metadata) are
kit errors; kit-config reports each as a problem at the field's key path.
"""

from __future__ import annotations

from typing import Any

from kit_artifacts._artifacts import Artifact
from kit_artifacts.errors import ArtifactTypeError

__all__ = ["is_artifact_type", "structure_artifact", "unstructure_artifact"]


def is_artifact_type(tp: Any) -> bool:
    """True for `Artifact` and its subclasses (the field types this hook builds)."""
    return isinstance(tp, type) and issubclass(tp, Artifact)


def unstructure_artifact(artifact: Artifact) -> str:
    """A config records an input as its pinned URI (or, read from a path, that path)."""
    return artifact.uri or artifact.path


def structure_artifact(value: Any, cls: type[Artifact]) -> Artifact:
    """Load the `cls` artifact that a config value names (see the module docstring)."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ArtifactTypeError(
            f"expected an art://NAME[:VERSION] URI or a {cls.__name__} data path, got {value!r}",
            type_name=type(value).__name__,
            expected=cls.__name__,
            hint="write the input as art://NAME or ${art:NAME}",
        )
    try:
        if value.startswith("art://"):
            return cls.from_uri(value)
        return cls.load(value, emit=False)
    except ArtifactTypeError as exc:  # the loader's hint names code; a config wants a ref
        raise ArtifactTypeError(
            f"{value} holds a {exc.type_name}, not a {cls.__name__}",
            type_name=exc.type_name,
            expected=cls.__name__,
            path=exc.path,
            hint=f"name a {cls.__name__} here (`nemotron art ls` lists the artifacts)",
        ) from exc
