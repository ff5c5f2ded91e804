"""The one `art://` parser: `art://NAME[:VERSION][/SUBPATH]` and the W&B form.

Every caller (registry, `${art:...}`, `from_uri`, the CLI) goes through `parse_art_uri`, so
there is exactly one grammar. NAME is `[A-Za-z0-9][A-Za-z0-9._-]*` without `..`: it can never
name a parent directory or contain a separator, so registry paths built from it cannot escape
the registry root. SUBPATH segments are checked the same way (no `..`, no empty segment).
"""

from __future__ import annotations

import re

import attrs

from kit_artifacts.errors import ArtifactURIError

__all__ = [
    "ALIAS_RE",
    "ArtURI",
    "NAME_RE",
    "WandbArtURI",
    "parse_art_uri",
    "parse_version",
    "validate_alias",
    "validate_name",
]

SCHEME = "art://"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
_VERSION_NUM_RE = re.compile(r"v?([0-9]+)")
_SEGMENT_RE = re.compile(r"[^/\x00]+")
_GRAMMAR = (
    "use art://NAME[:latest|vN|N|ALIAS][/SUBPATH] with NAME matching [A-Za-z0-9][A-Za-z0-9._-]*"
)


@attrs.frozen
class ArtURI:
    """A parsed registry URI; `version` is None (latest), `latest`, `vN`, or an alias."""

    name: str
    version: str | None = None
    subpath: str | None = None

    @property
    def pinned_version(self) -> int | None:
        """The version number when the URI names one (`vN`), else None."""
        if self.version is not None and self.version.startswith("v"):
            digits = self.version[1:]
            if digits.isdigit():
                return int(digits)
        return None

    def __str__(self) -> str:
        text = SCHEME + self.name
        if self.version is not None:
            text += ":" + self.version
        if self.subpath:
            text += "/" + self.subpath
        return text


@attrs.frozen
class WandbArtURI:
    """The W&B form `art://ENTITY/PROJECT/NAME:VERSION` (resolved by kit-track, if present)."""

    entity: str
    project: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.entity}/{self.project}/{self.name}:{self.version}"


def validate_name(name: str, *, uri: str | None = None) -> str:
    """Return `name` if it is a valid artifact name, else raise `ArtifactURIError`."""
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise ArtifactURIError(
            f"invalid artifact name {name!r} in {uri or name!r}",
            uri=uri or name,
            hint="names match [A-Za-z0-9][A-Za-z0-9._-]* and never contain '..' or '/'",
        )
    return name


def validate_alias(alias: str, *, uri: str | None = None) -> str:
    """Return `alias` if it is a valid custom alias (not a number, not `vN`), else raise."""
    if not ALIAS_RE.fullmatch(alias) or ".." in alias or _VERSION_NUM_RE.fullmatch(alias):
        raise ArtifactURIError(
            f"invalid alias {alias!r} in {uri or alias!r}",
            uri=uri or alias,
            hint="aliases match [A-Za-z][A-Za-z0-9._-]* and are not version numbers like v3",
        )
    return alias


def parse_version(text: str, *, uri: str) -> str:
    """Normalise a VERSION: `3`/`v3` -> `v3`, `latest` and aliases unchanged."""
    if text == "latest":
        return text
    number = _VERSION_NUM_RE.fullmatch(text)
    if number:
        value = int(number.group(1))
        if value < 1:
            raise ArtifactURIError(
                f"version {text!r} in {uri!r} is out of range",
                uri=uri,
                hint="versions start at v1",
            )
        return f"v{value}"
    validate_alias(text, uri=uri)
    return text


def _check_subpath(subpath: str, uri: str) -> str:
    segments = subpath.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT_RE.fullmatch(segment):
            raise ArtifactURIError(
                f"invalid subpath {subpath!r} in {uri!r}",
                uri=uri,
                hint="a subpath is a relative path inside the artifact without '', '.' or '..'",
            )
    return subpath


def parse_art_uri(text: str, *, allow_bare: bool = False) -> ArtURI | WandbArtURI:
    """Parse `art://...` (or, with `allow_bare`, `NAME[:VER][/SUB]` without the scheme).

    The W&B form is recognised as exactly three segments with the version in the last one
    and no `:` in the first two; any other shape is the registry form.
    """
    if not isinstance(text, str):
        raise ArtifactURIError(f"artifact URI must be a string, got {text!r}", uri=repr(text))
    if text.startswith(SCHEME):
        body = text[len(SCHEME) :]
    elif allow_bare and "://" not in text:
        body = text
    else:
        raise ArtifactURIError(f"not an art:// URI: {text!r}", uri=text, hint=_GRAMMAR)
    if not body:
        raise ArtifactURIError(f"empty artifact URI {text!r}", uri=text, hint=_GRAMMAR)
    segments = body.split("/")
    if (
        len(segments) == 3
        and ":" not in segments[0]
        and ":" not in segments[1]
        and ":" in segments[2]
    ):
        entity, project, last = segments
        name, _, wb_version = last.partition(":")
        if not entity or not project or not name or not wb_version:
            raise ArtifactURIError(
                f"incomplete W&B artifact URI {text!r}",
                uri=text,
                hint="use art://ENTITY/PROJECT/NAME:VERSION",
            )
        return WandbArtURI(entity=entity, project=project, name=name, version=wb_version)
    head, sep, rest = body.partition("/")
    subpath = _check_subpath(rest, text) if sep else None
    name, colon, version_text = head.partition(":")
    validate_name(name, uri=text)
    if colon and not version_text:
        raise ArtifactURIError(f"empty version in {text!r}", uri=text, hint=_GRAMMAR)
    version = parse_version(version_text, uri=text) if colon else None
    return ArtURI(name=name, version=version, subpath=subpath)
