"""`Artifact`, the typed artifact classes, `metadata.json` (de)serialisation and type lookup.

`metadata.json` matches FORMATS.md section 1 both ways: we read the earlier kit's files (typed
fields at top level or only mirrored in `metadata`) and write ours with a stable key order:
`path, type, name, created_at, producer, <typed fields>, metadata, tracking`. Unknown fields
are an error naming the field and the closest known one (the earlier kit dropped them).
User subclasses register themselves by class name on definition; other processes find them
through the `kit_artifacts.types` entry-point group (`MyArtifact = "pkg.mod:MyArtifact"`).
"""

# String paths on purpose: these hot paths use os-level atomic primitives (os.link, os.replace,
# os.open) and also carry fsspec URLs, which pathlib would mangle (s3:// -> s3:/).
# ruff: noqa: PTH100, PTH103, PTH105, PTH108, PTH110, PTH111, PTH112, PTH113, PTH114, PTH116, PTH118, PTH119, PTH120, PTH202
from __future__ import annotations

import builtins
import contextvars
import datetime as _dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import attrs

from kit_artifacts._ref import ArtifactRef
from kit_artifacts.errors import ArtifactMetadataError, ArtifactNotFoundError, ArtifactTypeError
from kit_config import atomic_write_json, closest

if TYPE_CHECKING:
    from kit_artifacts._registry import ArtifactRegistry

__all__ = [
    "Artifact",
    "BASE_KEYS",
    "ENTRY_POINT_GROUP",
    "artifact_type",
    "artifact_types",
    "metadata_file_for",
    "parse_json_bytes",
    "read_json_file",
    "register_artifact_type",
]

ENTRY_POINT_GROUP = "kit_artifacts.types"
BASE_KEYS = ("path", "type", "name", "created_at", "producer", "metadata", "tracking")
_TYPES: dict[str, type[Artifact]] = {}
_ENTRY_POINTS_LOADED = False
A = TypeVar("A", bound="Artifact")
# True while `_structured` builds an artifact (it has checked the fields already).
_STRUCTURING = contextvars.ContextVar("kit_artifacts_structuring", default=False)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _path_str(value: Any) -> str:
    text = str(os.fspath(value))
    if "://" in text:
        return text
    return str(os.path.abspath(os.path.expanduser(text)))


def _structured(cls: type[A], data: dict[str, Any]) -> tuple[A | None, list[str]]:
    """Build `cls` from JSON-like `data` by kit-config's exact structuring (metadata must not
    change meaning silently: `"12"` is no int); else None and every `key.path: problem`."""
    from kit_config import ConfigValidationError, structure

    token = _STRUCTURING.set(True)  # the checks below run once, not again in __init__
    try:
        return structure(data, cls, exact=True), []
    except ConfigValidationError as exc:
        return None, [f"{p.path}: {p.message}" for p in exc.problems]
    finally:
        _STRUCTURING.reset(token)


def metadata_file_for(path: str, *, path_kind: str = "auto") -> str:
    """Where `metadata.json` lives for an artifact whose data is at `path`."""
    if os.path.basename(path) == "metadata.json":
        return path
    is_file = path_kind == "file" or (path_kind == "auto" and os.path.isfile(path))
    return os.path.join(os.path.dirname(path) if is_file else path, "metadata.json")


def read_json_file(path: str, what: str = "artifact metadata") -> Any:
    """Parse a JSON file, turning a corrupt or truncated file into `ArtifactMetadataError`."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError as exc:
        raise ArtifactNotFoundError(
            f"no {what} at {path}", ref=path, hint="check the path, or save the artifact first"
        ) from exc
    return parse_json_bytes(raw, path, what)


def parse_json_bytes(raw: bytes, path: str, what: str) -> Any:
    """Parse JSON bytes read from `path`; a decode error names the file, line and column."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f"line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "encoding"
        )
        raise ArtifactMetadataError(
            f"corrupt or truncated {what} {path} ({where}: {exc})",
            path=path,
            hint="restore the file, or re-publish the artifact",
        ) from exc


_log = logging.getLogger(__name__)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:
            # A broken plugin must not hide the built-in types, nor vanish without a word.
            _log.warning("artifact type plugin %s = %s failed to load (%s: %s); artifacts of "
                         "that type cannot be loaded until it is fixed", ep.name, ep.value,
                         type(exc).__name__, exc)
            continue
        if isinstance(cls, type) and issubclass(cls, Artifact):
            _TYPES.setdefault(ep.name, cls)
        else:
            _log.warning("artifact type plugin %s = %s is not an Artifact subclass; ignored",
                         ep.name, ep.value)


def register_artifact_type(cls: type[A], name: str | None = None) -> type[A]:
    """Make `cls` loadable by its `type` name (subclasses are registered automatically)."""
    _TYPES[name or cls.__name__] = cls
    return cls


def artifact_types() -> dict[str, type[Artifact]]:
    """Every known artifact type by name, including entry-point plugins."""
    _load_entry_points()
    return dict(sorted(_TYPES.items()))


def artifact_type(name: str, *, path: str | None = None) -> type[Artifact]:
    """The artifact class registered as `name`, or `ArtifactTypeError` naming the known ones."""
    if name not in _TYPES:
        _load_entry_points()
    if name not in _TYPES:
        near = closest(name, list(_TYPES))
        tip = f"did you mean {near!r}? " if near else ""
        raise ArtifactTypeError(
            f"unknown artifact type {name!r}" + (f" in {path}" if path else ""),
            type_name=name,
            path=path,
            hint=f"{tip}import the module that defines it or register it under the "
            f"{ENTRY_POINT_GROUP!r} entry-point group (known: {', '.join(sorted(_TYPES))})",
        )
    return _TYPES[name]


@attrs.define(kw_only=True, slots=False)
class Artifact:
    """A path with typed metadata; subclasses add typed fields (FORMATS.md section 1)."""

    path_kind: ClassVar[Literal["dir", "file", "auto"]] = "auto"
    _min_values: ClassVar[Mapping[str, float]] = {}
    # Constructor-only alternative names {alias: field}; a subclass that declares some
    # routes its `__init__` through `_apply_aliases` (files keep the field's own name).
    _aliases: ClassVar[Mapping[str, str]] = {}

    path: str = attrs.field(converter=_path_str)
    name: str | None = None
    created_at: str = attrs.field(factory=_now)
    producer: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    tracking: dict[str, Any] | None = None
    _ref: ArtifactRef | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _TYPES[cls.__name__] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Artifact:
        # Reject unknown keyword fields with a suggestion, before attrs' bare TypeError.
        known = [a.alias or a.name for a in attrs.fields(cls) if a.init]
        unknown = [k for k in kwargs if k not in known and k not in cls._aliases]
        if unknown:
            problems = []
            for key in unknown:
                near = closest(key, [*(k for k in known if k != "path"), *cls._aliases])
                problems.append(
                    f"{key}: unknown field of {cls.__name__}"
                    + (f" (did you mean {near!r}?)" if near else "")
                )
            raise ArtifactMetadataError(
                f"invalid {cls.__name__}: {'; '.join(problems)}",
                path="<constructor>",
                key=unknown[0],
                problems=problems,
            )
        return super().__new__(cls)

    @classmethod
    def _apply_aliases(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` with each alias renamed to its field; both given is an error."""
        for alias, field in cls._aliases.items():
            if alias not in kwargs:
                continue
            value = kwargs.pop(alias)
            if field in kwargs and kwargs[field] != value:
                problem = f"{alias}: is another name for {field}; give one of them, not both"
                raise ArtifactMetadataError(
                    f"invalid {cls.__name__}: {problem}",
                    path="<constructor>", key=alias, problems=[problem],
                )
            kwargs[field] = value
        return kwargs

    def __attrs_post_init__(self) -> None:
        if _STRUCTURING.get():
            return
        data = attrs.asdict(self, filter=lambda a, _: a.init)
        problems = _structured(type(self), data)[1] or self._range_problems()
        if problems:
            raise ArtifactMetadataError(
                f"invalid {type(self).__name__}: {'; '.join(problems)}",
                path=self.path,
                problems=problems,
            )

    # -- fields ----------------------------------------------------------------------------

    @classmethod
    def typed_fields(cls) -> tuple[str, ...]:
        """Names of the typed fields a subclass adds (mirrored into `metadata`)."""
        return tuple(f.name for f in attrs.fields(cls) if f.init and f.name not in BASE_KEYS)

    def _range_problems(self) -> list[str]:
        """Values below a field's minimum (`_min_values`), as `field: problem`."""
        problems = []
        for name, minimum in self._min_values.items():
            value = getattr(self, name, None)  # the table is shared by all typed classes
            if isinstance(value, int | float) and value < minimum:
                problems.append(f"{name}: must be >= {minimum:g}, got {value!r}")
        return problems

    @property
    def type(self) -> str:
        """The artifact type name written to `metadata.json` (the class name)."""
        return type(self).__name__

    @property
    def uri(self) -> str | None:
        """Pinned `art://name:vN` once saved or loaded from the registry, else None."""
        return self._ref.uri if self._ref is not None else None

    @property
    def ref(self) -> ArtifactRef | None:
        """The registry version this object was saved as or loaded from."""
        return self._ref

    @property
    def metrics(self) -> dict[str, float]:
        """Numeric metadata values (for trackers)."""
        return {
            k: float(v)
            for k, v in self.to_dict()["metadata"].items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }

    # -- (de)serialisation ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The `metadata.json` object, keys in a stable order."""
        typed = {name: _jsonable(getattr(self, name)) for name in self.typed_fields()}
        mirrored = dict(self.metadata)
        mirrored.update({k: v for k, v in typed.items() if v is not None})
        out: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "name": self.name,
            "created_at": self.created_at,
            "producer": self.producer,
        }
        out.update(typed)
        out["metadata"] = mirrored
        out["tracking"] = self.tracking
        return out

    @classmethod
    def from_dict(cls: builtins.type[A], data: Any, *, source: str = "<dict>") -> A:
        """Build the right (sub)class from a `metadata.json` object; every problem is reported."""
        if not isinstance(data, dict):
            raise ArtifactMetadataError(
                f"artifact metadata in {source} must be a JSON object, got {type(data).__name__}",
                path=source,
            )
        type_name = data.get("type")
        target: builtins.type[Artifact] = cls
        if isinstance(type_name, str) and type_name not in ("artifact", cls.__name__):
            target = artifact_type(type_name, path=source)
            if not issubclass(target, cls):
                raise ArtifactTypeError(
                    f"{source} holds a {type_name}, not a {cls.__name__}",
                    type_name=type_name,
                    expected=cls.__name__,
                    path=source,
                    hint=f"load it with {type_name}.load() or Artifact.load()",
                )
        elif type_name is not None and not isinstance(type_name, str):
            raise ArtifactMetadataError(
                f"{source}: 'type' must be a string", path=source, key="type"
            )
        typed = set(target.typed_fields())
        kwargs = {k: v for k, v in data.items() if k != "type"}
        meta = data.get("metadata")
        if isinstance(meta, dict):
            # Earlier-kit files may carry typed fields only in `metadata`. In memory it holds
            # only the free-form keys (typed ones are mirrored on write): load -> save is exact.
            kwargs.update({k: v for k, v in meta.items() if k in typed and k not in data})
            kwargs["metadata"] = {k: v for k, v in meta.items() if k not in typed}
        built, problems = _structured(target, kwargs)
        if built is not None:
            problems = built._range_problems()
        if problems or built is None:
            raise ArtifactMetadataError(
                f"invalid {target.__name__} metadata in {source}: {'; '.join(problems)}",
                path=source,
                key=problems[0].split(":", 1)[0] if problems else None,
                problems=problems,
                hint="fix or remove the named fields",
            )
        return built  # type: ignore[return-value]

    def metadata_file(self) -> str:
        """Where this artifact's `metadata.json` is written."""
        return metadata_file_for(self.path, path_kind=self.path_kind)

    def write_metadata(self) -> str:
        """Write `metadata.json` next to the data atomically (temp file + rename)."""
        target = self.metadata_file()
        atomic_write_json(target, self.to_dict())
        return target

    # -- registry ---------------------------------------------------------------------------

    def save(
        self,
        name: str | None = None,
        *,
        aliases: Iterable[str] = (),
        inputs: Iterable[str] | None = None,
        registry: ArtifactRegistry | None = None,
        copy: bool = False,
        hash_mode: Literal["full", "sampled", "none"] = "full",
    ) -> ArtifactRef:
        """Write `metadata.json` and publish a new version (default name: the type name)."""
        from kit_artifacts import hooks
        from kit_artifacts._registry import get_registry

        reg = registry if registry is not None else get_registry()
        self.name = name or self.name or self.type
        if self.producer is None:
            self.producer = hooks.current_producer().run_id
        if "://" not in self.path:
            self.write_metadata()
        ref = reg.publish(
            self, self.name, aliases=aliases, inputs=inputs, copy=copy, hash_mode=hash_mode
        )
        self._ref = ref
        return ref

    @classmethod
    def load(cls: builtins.type[A], path: str | os.PathLike[str], *, emit: bool = True) -> A:
        """Load from a data path (directory, data file, or `metadata.json` itself).

        `emit=False` only reads: no `used` event, for inspection or when the use was
        already recorded (a `${art:...}` resolution).
        """
        from kit_artifacts import hooks

        probe = _path_str(path)
        guess = "file" if os.path.isfile(probe) else "dir"
        meta_path = metadata_file_for(probe, path_kind=guess)
        artifact = cls.from_dict(read_json_file(meta_path), source=meta_path)
        if emit:
            event = hooks.ArtifactEvent("used", None, artifact.path, artifact.type, artifact.path)
            hooks.emit(event)
        return artifact

    @classmethod
    def from_uri(
        cls: builtins.type[A],
        uri: str,
        *,
        registry: ArtifactRegistry | None = None,
        emit: bool = True,
    ) -> A:
        """Load the version an `art://` URI names, pinned (`emit`: record a `used` event)."""
        from kit_artifacts._records import resolve_remote
        from kit_artifacts._registry import get_registry

        remote = resolve_remote(uri)
        if remote is not None:
            return cls.load(remote, emit=emit)
        reg = registry if registry is not None else get_registry()
        ref = reg.resolve(uri)
        artifact: A = reg.load(ref, expected=cls)
        if emit:
            reg.note_used(ref)
        return artifact


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        return attrs.asdict(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


register_artifact_type(Artifact)
