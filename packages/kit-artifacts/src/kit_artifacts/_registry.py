"""`ArtifactRegistry`: versions, aliases and records under a local or fsspec root.

Layout (one for every backend):

    {root}/{name}/v{N}/version.json        the version record; its creation IS the commit
    {root}/{name}/v{N}/consumers/{c}@v{M}  reverse-lineage markers (who used this version)
    {root}/{name}/aliases/{alias}          pointer to N (latest is automatic), replaced atomically
    {root}/{name}/manifests/{token}.json   per-file integrity manifest, written before commit
    {root}/{name}/blobs/{token}/...        data copied in on request (zero-copy otherwise)

Publishing writes the manifest under a unique token, then `claim`s the first free
`v{N}/version.json` starting after `latest` (an atomic create-if-absent of a complete file), so
two publishers can never get the same number and a crash never leaves a visible partial
version. `latest` is updated under a lock to max(current, N); readers treat it as a lower bound
and probe `v{N+1}` forward, which also heals a crash between commit and alias update. Every
resolution reads O(1) small files however many versions exist.
"""

# String paths on purpose: these hot paths use os-level atomic primitives (os.link, os.replace,
# os.open) and also carry fsspec URLs, which pathlib would mangle (s3:// -> s3:/).
# ruff: noqa: PTH100, PTH103, PTH105, PTH108, PTH110, PTH111, PTH112, PTH113, PTH114, PTH116, PTH118, PTH119, PTH120, PTH202
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import attrs

from kit_artifacts import hooks
from kit_artifacts._artifacts import Artifact, artifact_type, parse_json_bytes
from kit_artifacts._integrity import Manifest, VerifyReport, compare, compute_manifest
from kit_artifacts._records import (
    RECORD_FORMAT,
    VersionRecord,
    parse_record,
    resolve_remote,
)
from kit_artifacts._ref import ArtifactRef
from kit_artifacts._runlog import (
    check_pinned,
    read_run_inputs,
    record_implicit_inputs,
    run_outputs,
    runs_using,
    write_run_output,
)
from kit_artifacts._storage import Storage, open_storage
from kit_artifacts._uri import ArtURI, WandbArtURI, parse_art_uri, validate_alias, validate_name
from kit_artifacts.errors import (
    ArtifactMetadataError,
    ArtifactNotFoundError,
    ArtifactTypeError,
    ArtifactURIError,
    RegistryError,
    format_versions,
)
from kit_config import home_dir

__all__ = ["ArtifactRegistry", "get_registry"]


class ArtifactRegistry:
    """Versioned artifacts under `root` (a local path or an fsspec URL such as s3://b/p)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.root = os.fspath(root)
        self.storage: Storage = (
            storage if storage is not None else open_storage(self.root, storage_options)
        )
        self._flushed: dict[str, int] = {}  # implicit run id -> inputs already recorded

    def __repr__(self) -> str:
        return f"ArtifactRegistry({self.root!r})"

    # -- reading ----------------------------------------------------------------------------

    def _read_int(self, key: str) -> int | None:
        try:
            text = self.storage.read_pointer(key)
        except OSError:
            return None
        return int(text) if text and text.isdigit() else None

    def _record_key(self, name: str, version: int) -> str:
        return f"{name}/v{version}/version.json"

    def _read_record(self, name: str, version: int) -> VersionRecord | None:
        key = self._record_key(name, version)
        try:
            raw = self.storage.read_bytes(key)
        except FileNotFoundError:
            return None
        where = self.storage.local_path(key) or f"{self.root}/{key}"
        return parse_record(parse_json_bytes(raw, where, "version record"), name, version, where)

    def _read_full(self, name: str, version: int) -> VersionRecord | None:
        """`_read_record` with an implicit run's inputs followed into `inputs`."""
        record = self._read_record(name, version)
        if record is None or record.run_inputs is None:
            return record
        run_id, count = record.run_inputs
        inputs = read_run_inputs(self.storage, run_id, count)
        return attrs.evolve(record, inputs=tuple(dict.fromkeys((*record.inputs, *inputs))))

    def names(self) -> list[str]:
        """Every artifact name that has at least one entry, sorted."""
        out = []
        for entry in self.storage.list_names(""):
            try:
                validate_name(entry)
            except ArtifactURIError:
                continue
            out.append(entry)
        return sorted(out)

    def versions(self, name: str) -> list[int]:
        """Committed version numbers of `name`, ascending (lists the name's directory)."""
        validate_name(name)
        return sorted(
            int(entry[1:])
            for entry in self.storage.children_with(name, "version.json")
            if entry.startswith("v") and entry[1:].isdigit()
        )

    def aliases(self, name: str) -> dict[str, int]:
        """Every alias of `name` (including `latest`) and the version it points at."""
        validate_name(name)
        out: dict[str, int] = {}
        for alias in self.storage.list_names(f"{name}/aliases"):
            if alias.startswith("."):
                continue
            value = self._read_int(f"{name}/aliases/{alias}")
            if value is not None:
                out[alias] = value
        if "latest" in out:
            out["latest"] = self._latest(name) or out["latest"]
        return dict(sorted(out.items()))

    def _latest(self, name: str) -> int | None:
        hint = self._read_int(f"{name}/aliases/latest")
        if hint is None:
            known = self.versions(name)
            return known[-1] if known else None
        # `latest` is a lower bound: a publisher may have died between commit and alias write.
        while self.storage.exists(self._record_key(name, hint + 1)):
            hint += 1
        return hint

    def _not_found(self, ref: str, name: str, what: str) -> ArtifactNotFoundError:
        known = self.versions(name) if name in self.names() else []
        aliases = sorted(self.aliases(name)) if known else []
        if not known:
            near = [n for n in self.names() if n.lower() == name.lower()]
            hint = f"no artifact named {name!r} in {self.root}" + (
                f"; did you mean {near[0]!r}?" if near else ""
            )
        else:
            hint = f"existing versions: {format_versions(known)}" + (
                f"; aliases: {', '.join(aliases)}" if aliases else ""
            )
        return ArtifactNotFoundError(
            f"{what} not found: {ref}", ref=ref, available=known, aliases=aliases, hint=hint
        )

    def _version_number(self, parsed: ArtURI, text: str) -> int:
        name = parsed.name
        if parsed.version in (None, "latest"):
            latest = self._latest(name)
            if latest is None:
                raise self._not_found(text, name, "artifact")
            return latest
        pinned = parsed.pinned_version
        if pinned is not None:
            return pinned
        value = self._read_int(f"{name}/aliases/{parsed.version}")
        if value is None:
            raise self._not_found(text, name, f"alias {parsed.version!r}")
        return value

    def resolve(self, uri_or_name: str) -> ArtifactRef:
        """Pin `art://NAME[:VER][/SUB]` (or bare `NAME[:VER]`) to one version; O(1) reads.

        A SUBPATH is joined onto the returned `path`.
        """
        parsed = parse_art_uri(uri_or_name, allow_bare=True)
        if isinstance(parsed, WandbArtURI):
            resolve_remote(str(parsed))  # raises the clear error when no resolver exists
            raise ArtifactURIError(
                f"{uri_or_name} is a W&B artifact URI, not one of registry {self.root}",
                uri=uri_or_name,
                hint="load it with Artifact.from_uri(), which asks the W&B resolver",
            )
        number = self._version_number(parsed, uri_or_name)
        record = self._read_record(parsed.name, number)
        if record is None:
            raise self._not_found(uri_or_name, parsed.name, "version")
        ref = record.ref
        if parsed.subpath:
            ref = attrs.evolve(ref, path=f"{ref.path.rstrip('/')}/{parsed.subpath}")
        return ref

    def record(self, ref: ArtifactRef | str) -> VersionRecord:
        """The full record (inputs, producer, metadata) of a version."""
        if isinstance(ref, str):
            ref = self.resolve(ref)
        record = self._read_full(ref.name, ref.version)
        if record is None:
            raise self._not_found(ref.uri, ref.name, "version")
        return record

    def load(self, ref: ArtifactRef | str, *, expected: type[Artifact] = Artifact) -> Any:
        """Rebuild the typed artifact a version recorded (no access to the data needed)."""
        record = self.record(ref)
        source = f"{self.root}/{record.name}/v{record.version}/version.json"
        cls = artifact_type(record.type, path=source)
        if not issubclass(cls, expected):
            raise ArtifactTypeError(
                f"{record.uri} is a {record.type}, not a {expected.__name__}",
                type_name=record.type,
                expected=expected.__name__,
                path=source,
                hint=f"load it with {record.type}.from_uri() or Artifact.from_uri()",
            )
        artifact = cls.from_dict(record.artifact, source=source)
        artifact.path = record.path
        artifact._ref = record.ref
        return artifact

    def note_used(self, ref: ArtifactRef) -> None:
        """Emit the `used` event for a pinned version (lineage of the current run)."""
        hooks.emit(hooks.ArtifactEvent("used", ref, ref.uri, ref.type, ref.path))

    # -- writing ----------------------------------------------------------------------------

    def _candidates(self, name: str) -> Iterator[str]:
        # Start after `latest` (a lower bound of the newest committed version); claiming
        # skips numbers taken meanwhile, so a stale start costs a retry, never a duplicate.
        latest = self._read_int(f"{name}/aliases/latest")
        start = None if latest is None else latest + 1
        if start is None:
            known = [
                int(e[1:])
                for e in self.storage.list_names(name)
                if e.startswith("v") and e[1:].isdigit()
            ]
            start = max(known, default=0) + 1
        number = max(start, 1)
        while True:
            yield self._record_key(name, number)
            number += 1

    def publish(
        self,
        artifact: Artifact,
        name: str | None = None,
        *,
        aliases: Iterable[str] = (),
        inputs: Iterable[str] | None = None,
        producer: hooks.Producer | None = None,
        copy: bool = False,
        hash_mode: Literal["full", "sampled", "none"] = "full",
    ) -> ArtifactRef:
        """Publish a new version of `name`; inputs default to the URIs used in this process."""
        name = validate_name(name or artifact.name or artifact.type)
        alias_list = [validate_alias(a) for a in aliases if a != "latest"]
        implicit = hooks.implicit_run() if inputs is None else None
        input_list = list(hooks.used_inputs() if inputs is None and implicit is None else
                          inputs or ())
        run_inputs = record_implicit_inputs(self.storage, self._flushed, implicit)
        check_pinned(input_list)
        who = producer if producer is not None else hooks.current_producer()
        token = uuid.uuid4().hex
        data_path = source = artifact.path
        is_file = "://" not in source and os.path.isfile(source)
        # FORMATS.md section 1: a file artifact's (blend.json, RL manifest.json) output
        # directory is its parent; that whole directory is what we hash and copy.
        source_root = os.path.dirname(source) if is_file else source
        data_root = source_root
        if copy:
            if "://" in source or not os.path.exists(source):
                raise ArtifactNotFoundError(
                    f"cannot copy {source} into {self.root}: not an existing local path",
                    ref=source,
                    hint="copy=True takes local data; publish remote data zero-copy",
                )
            data_root = self.storage.put_tree(source_root, f"{name}/blobs/{token}")
            data_path = f"{data_root}/{os.path.basename(source)}" if is_file else data_root
        manifest_key = None
        integrity = None
        if "://" not in source and os.path.exists(source):
            manifest = compute_manifest(source_root, hash_mode)
            manifest = attrs.evolve(manifest, root=data_root)
            manifest_key = f"{name}/manifests/{token}.json"
            self.storage.write_atomic(
                manifest_key, json.dumps(manifest.to_json(), separators=(",", ":")).encode()
            )
            integrity = {
                "algorithm": manifest.algorithm,
                "mode": hash_mode,
                "files": len(manifest.files),
                "bytes": manifest.total_bytes,
            }
        body = artifact.to_dict()
        body["name"] = name
        body["path"] = data_path
        if body.get("producer") is None:
            body["producer"] = who.run_id
        record = {
            "format": RECORD_FORMAT,
            "name": name,
            "type": artifact.type,
            "path": data_path,
            "created_at": body["created_at"],
            "inputs": input_list,
            "run_inputs": run_inputs,
            "producer": attrs.asdict(who),
            "manifest": manifest_key,
            "integrity": integrity,
            "copied": copy,
            "artifact": body,
        }
        payload = json.dumps(record, separators=(",", ":")).encode()
        try:
            key = self.storage.claim(self._candidates(name), payload)
        except OSError as exc:
            raise RegistryError(
                f"cannot publish {name} under {self.root}: {exc}", root=self.root
            ) from exc
        version = int(key.split("/")[1][1:])
        with self.storage.lock(f"{name}/.lock"):
            current = self._read_int(f"{name}/aliases/latest")
            if current is None or current < version:
                self.storage.write_pointer(f"{name}/aliases/latest", str(version))
            for alias in alias_list:
                self.storage.write_pointer(f"{name}/aliases/{alias}", str(version))
        for item in input_list:
            parsed_input = parse_art_uri(item) if item.startswith("art://") else None
            if isinstance(parsed_input, ArtURI) and parsed_input.pinned_version is not None:
                base = f"{parsed_input.name}/v{parsed_input.pinned_version}"
                self.storage.write_atomic(f"{base}/consumers/{name}@v{version}", b"")
        if run_inputs is not None:
            write_run_output(self.storage, str(run_inputs["run_id"]), name, version)
        ref = ArtifactRef(name, version, data_path, artifact.type)
        hooks.emit(hooks.ArtifactEvent("published", ref, ref.uri, ref.type, ref.path))
        return ref

    def set_alias(self, name: str, alias: str, version: int | str) -> ArtifactRef:
        """Point `alias` at an existing version (atomic replace); returns that version."""
        validate_name(name)
        if alias == "latest":
            raise ArtifactURIError(
                "'latest' is maintained automatically", uri=alias, hint="choose another alias"
            )
        validate_alias(alias)
        target = self.resolve(f"{name}:{version}")
        with self.storage.lock(f"{name}/.lock"):
            self.storage.write_pointer(f"{name}/aliases/{alias}", str(target.version))
        return target

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete a custom alias (missing is an error naming the existing ones)."""
        validate_name(name)
        validate_alias(alias)
        if alias not in self.aliases(name):
            raise self._not_found(f"{name}:{alias}", name, f"alias {alias!r}")
        with self.storage.lock(f"{name}/.lock"):
            self.storage.remove_tree(f"{name}/aliases/{alias}")

    def consumers(self, ref: ArtifactRef) -> list[ArtifactRef]:
        """Versions that recorded `ref` as an input (reverse lineage markers)."""
        out = []
        for marker in self.storage.list_names(f"{ref.name}/v{ref.version}/consumers"):
            name, _, ver = marker.partition("@v")
            if ver.isdigit():
                record = self._read_record(name, int(ver))
                if record is not None:
                    out.append(record.ref)
        for run_id in runs_using(self.storage, ref.name):
            # Implicit runs: a version consumed `ref` if it saw the run's log past `ref`.
            inputs = read_run_inputs(self.storage, run_id)
            if ref.uri not in inputs:
                continue
            position = inputs.index(ref.uri)
            for name, version in run_outputs(self.storage, run_id):
                record = self._read_record(name, version)
                if record is not None and (record.run_inputs or ("", 0))[1] > position:
                    out.append(record.ref)
        return sorted(set(out), key=lambda r: (r.name, r.version))

    # -- integrity --------------------------------------------------------------------------

    def manifest(self, ref: ArtifactRef | str) -> Manifest | None:
        """The per-file manifest recorded at publish, or None if the data was not hashed."""
        record = self.record(ref)
        if record.manifest is None:
            return None
        where = self.storage.local_path(record.manifest) or f"{self.root}/{record.manifest}"
        try:
            raw = self.storage.read_bytes(record.manifest)
        except FileNotFoundError as exc:
            raise ArtifactMetadataError(
                f"manifest of {record.uri} is missing: {where}", path=where
            ) from exc
        data = parse_json_bytes(raw, where, "integrity manifest")
        try:
            return Manifest.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactMetadataError(
                f"malformed integrity manifest {where}: {exc}", path=where
            ) from exc

    def verify(self, uri: ArtifactRef | str) -> VerifyReport:
        """Re-hash a version's files: which are missing, changed, or extra."""
        record = self.record(uri)
        manifest = self.manifest(record.ref)
        if manifest is None:
            raise ArtifactMetadataError(
                f"{record.uri} has no integrity manifest (its data was not local at publish)",
                path=f"{self.root}/{record.name}/v{record.version}",
            )
        if "://" in manifest.root:
            raise ArtifactMetadataError(
                f"cannot verify {record.uri}: its data lives at {manifest.root}",
                path=manifest.root,
                hint="verify runs on local data; fetch it first or verify where it was published",
            )
        return compare(record.uri, manifest, manifest.root)


def get_registry() -> ArtifactRegistry:
    """The registry at `NEMOTRON_ARTIFACTS_ROOT`, else `$NEMOTRON_HOME/artifacts`."""
    root = os.environ.get("NEMOTRON_ARTIFACTS_ROOT") or str(home_dir("artifacts"))
    cached = _CACHE.get(root)
    if cached is None:
        cached = _CACHE[root] = ArtifactRegistry(root)
    return cached


_CACHE: dict[str, ArtifactRegistry] = {}
