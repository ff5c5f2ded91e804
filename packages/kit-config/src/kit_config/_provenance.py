"""Provenance: what a run was composed from, saved so that a rerun can recompose it.

`save_provenance(dir, ...)` writes, each file atomically (`atomic_write_bytes`), with
`provenance.json` last so that its presence means the record is complete:

  dir/config.yaml        the config (secrets masked): fully resolved, or with `resolve=False`
                         as given, interpolations kept (a launcher's pinned config: the job
                         resolves it, so resolving here would do that work twice)
  dir/sources/...        copies of the source files (same relative layout, so the
                         `defaults:` chain still resolves); a file holding a literal
                         secret is NOT copied, only its digest is kept
  dir/provenance.json    schema version, overrides, argv, source paths + sha256, config,
                         pins (`{reference as written: the exact version it pinned to}`)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kit_config._files import atomic_write_bytes, atomic_write_json, config_digest
from kit_config._readers import SUPPORTED_SUFFIXES, read_text_config
from kit_config._secrets import is_secret_key, mask_argv, mask_override, mask_secrets
from kit_config._sources import SourceInfo, sources_of
from kit_config.errors import ConfigNotFoundError, ProvenanceError

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "PROVENANCE_FILE",
    "PROVENANCE_SCHEMA_VERSION",
    "Provenance",
    "SourceRecord",
    "load_provenance",
    "recompose",
    "save_provenance",
]

PROVENANCE_SCHEMA_VERSION = 1
PROVENANCE_FILE = "provenance.json"
_KIND = "kit_config.provenance"


@attrs.frozen
class SourceRecord:
    """One source file of a composition: where it was, its digest, and its saved copy."""

    path: str
    sha256: str
    size: int
    copy: str | None = None  # relative to the provenance directory; None when not copied


@attrs.frozen
class Provenance:
    """A loaded provenance record (see the module docstring for the files behind it)."""

    directory: Path
    schema_version: int
    created_at: str
    config: dict[str, Any]
    config_digest: str
    overrides: tuple[str, ...]
    argv: tuple[str, ...]
    sources: tuple[SourceRecord, ...]
    root: str | None
    base: dict[str, Any] | None
    pins: dict[str, str] = attrs.field(factory=dict)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _has_literal_secret(obj: Any) -> bool:
    """True if a parsed file holds a secret key with a literal (non-interpolated) value."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            literal = v is not None and not (isinstance(v, str) and v.startswith("${"))
            if is_secret_key(str(k)) and literal and not isinstance(v, Mapping | list):
                return True
            if _has_literal_secret(v):
                return True
    elif isinstance(obj, list):
        return any(_has_literal_secret(v) for v in obj)
    return False


def _source_records(directory: Path, paths: Sequence[Path]) -> list[SourceRecord]:
    """Digest each source and copy it (keeping relative layout) unless it holds a secret."""
    if not paths:
        return []
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    records = []
    for path in paths:
        if not path.is_file():
            raise ConfigNotFoundError(
                f"provenance source not found: {path}",
                file=str(path),
                hint="pass existing files as sources",
            )
        raw = path.read_bytes()
        copy: str | None = None
        secret = False
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            try:
                data, _ = read_text_config(raw.decode("utf-8"), str(path), path.suffix.lower())
                secret = _has_literal_secret(data)
            except Exception:  # an unparsable extra source is still digested and copied
                secret = False
        if not secret:
            copy = (Path("sources") / path.relative_to(common)).as_posix()
            atomic_write_bytes(directory / copy, raw)
        records.append(SourceRecord(str(path), hashlib.sha256(raw).hexdigest(), len(raw), copy))
    return records


def save_provenance(
    directory: str | os.PathLike[str],
    *,
    config: Any,
    overrides: Sequence[str] | None = None,
    argv: Sequence[str] | None = None,
    sources: Sequence[str | os.PathLike[str]] | None = None,
    resolve: bool = True,
    pins: Mapping[str, str] | None = None,
) -> Path:
    """Write the provenance of `config` into `directory`; return the `provenance.json` path.

    `config` is a composed DictConfig (its source files are known then), a plain mapping,
    or a typed config instance. `sources` defaults to the files the config was loaded from,
    `overrides` to those `compose` applied, `argv` to `sys.argv`. `resolve=False` keeps
    interpolations as written; `pins` records which exact input versions the caller
    pinned (kit-config does not interpret them).
    """
    import sys

    from omegaconf import DictConfig, OmegaConf

    from kit_config._structure import to_container, unstructure

    out_dir = Path(directory)
    info: SourceInfo | None = sources_of(config) if isinstance(config, DictConfig) else None
    if isinstance(config, DictConfig | Mapping) and not resolve:
        plain = config if isinstance(config, DictConfig) else OmegaConf.create(dict(config))
        resolved = dict(OmegaConf.to_container(plain, resolve=False))  # type: ignore[arg-type]
    elif isinstance(config, DictConfig):
        resolved = to_container(config)
    elif isinstance(config, Mapping):
        resolved = to_container(OmegaConf.create(dict(config)))
    else:
        resolved = unstructure(config)
    if sources is None:
        sources = info.files if info is not None else []
    if overrides is None:
        overrides = info.overrides if info is not None else []
    if argv is None:
        argv = sys.argv
    paths = [Path(s).resolve() for s in dict.fromkeys(str(s) for s in sources)]
    masked = mask_secrets(resolved)
    records = _source_records(out_dir, paths)
    yaml_text = OmegaConf.to_yaml(OmegaConf.create(masked))
    atomic_write_bytes(out_dir / "config.yaml", yaml_text.encode())
    root = info.root if info is not None else (str(paths[-1]) if paths else None)
    record = {
        "kind": _KIND,
        "schema_version": PROVENANCE_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "root": root,
        "base": mask_secrets(info.base) if info is not None and info.base else None,
        "overrides": [mask_override(o) for o in overrides],
        "argv": mask_argv(argv),
        "sources": [attrs.asdict(r) for r in records],
        "config_digest": config_digest(masked),
        "config": masked,
        "pins": dict(sorted((pins or {}).items())),
    }
    target = out_dir / PROVENANCE_FILE
    atomic_write_json(target, record)
    return target


def _bad(file: Path, what: str) -> ProvenanceError:
    return ProvenanceError(
        f"invalid provenance record {file}: {what}",
        file=str(file),
        hint="it was not written by kit_config.save_provenance, or was edited",
    )


def load_provenance(directory: str | os.PathLike[str]) -> Provenance:
    """Read a provenance record (its directory, or the `provenance.json` itself)."""
    path = Path(directory)
    file = path if path.suffix == ".json" else path / PROVENANCE_FILE
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigNotFoundError(
            f"no provenance record at {file}",
            file=str(file),
            hint="point at a directory written by save_provenance",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(file, f"not JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("kind") != _KIND:
        raise _bad(file, "missing kind 'kit_config.provenance'")
    version = raw.get("schema_version")
    if version != PROVENANCE_SCHEMA_VERSION:
        raise ProvenanceError(
            f"provenance record {file} has schema version {version!r}; "
            f"this kit_config reads version {PROVENANCE_SCHEMA_VERSION}",
            file=str(file),
            hint="use the kit version that wrote it",
        )
    try:
        sources = tuple(SourceRecord(**s) for s in raw["sources"])
        prov = Provenance(
            directory=file.parent,
            schema_version=version,
            created_at=str(raw["created_at"]),
            config=dict(raw["config"]),
            config_digest=str(raw["config_digest"]),
            overrides=tuple(str(o) for o in raw["overrides"]),
            argv=tuple(str(a) for a in raw["argv"]),
            sources=sources,
            root=raw.get("root"),
            base=raw.get("base"),
            pins={str(k): str(v) for k, v in (raw.get("pins") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(file, f"missing or malformed field ({type(exc).__name__}: {exc})") from None
    return prov


def recompose(
    provenance: Provenance,
    *,
    extra_overrides: Sequence[str] = (),
    verify: bool = True,
    schema: type | None = None,
) -> DictConfig:
    """Compose again from the saved sources and overrides (what a rerun starts from).

    `schema`: the config class the run was composed with (`compose(schema=)`): its defaults
    go under the sources again, as they did when the run was launched.

    Uses the copies saved with the record (so a later edit of the originals does not
    leak in); a source without a copy is read from its original path, and with `verify`
    its digest must match. `extra_overrides` go last (e.g. to re-supply a masked secret).
    """
    from kit_config._compose import compose

    root_file: Path | None = None
    for src in provenance.sources:
        saved = provenance.directory / src.copy if src.copy else Path(src.path)
        if not saved.is_file():
            raise ConfigNotFoundError(
                f"source {src.path} of provenance {provenance.directory} is missing ({saved})",
                file=str(saved),
                hint="restore the file, or rerun from the saved config.yaml",
            )
        if verify and _file_sha256(saved) != src.sha256:
            raise ProvenanceError(
                f"source {saved} changed since the run (sha256 {src.sha256[:12]}... expected)",
                file=str(saved),
                hint="restore it, or pass verify=False to recompose from the current file",
            )
        if provenance.root is not None and src.path == provenance.root:
            root_file = saved
    overrides = [*provenance.overrides, *extra_overrides]
    if provenance.root is not None and root_file is None:
        raise ProvenanceError(
            f"provenance {provenance.directory} lists no source record for its root "
            f"{provenance.root}",
            file=str(provenance.directory / PROVENANCE_FILE),
            hint="the record is incomplete; rerun from the saved config.yaml",
        )
    return compose(root_file, overrides, base=provenance.base, schema=schema)
