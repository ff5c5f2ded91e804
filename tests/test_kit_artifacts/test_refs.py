"""`find_refs` / `pin_refs`: artifact references in a config, on the one `art://` grammar."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit_artifacts import ArtifactURIError, ArtURI, PinnedInput, find_refs, parse_art_uri, pin_refs

VERSIONS = {"data": 3, "model": 7}


def fake_resolve(ref: str) -> PinnedInput:
    """Resolve art://NAME[:VER] against a fixed table (latest = highest version)."""
    parsed = parse_art_uri(ref)
    if parsed.name not in VERSIONS:
        raise LookupError(parsed.name)
    version = parsed.version
    number = VERSIONS[parsed.name] if version in (None, "latest") else int(version[1:])
    return PinnedInput(ref, f"art://{parsed.name}:v{number}", f"/store/{parsed.name}/v{number}",
                       "Artifact")


FIND_CASES = [
    ("interpolation", {"d": "${art:data}"}, ("art://data",)),
    ("interpolation-field", {"d": "${art:data:v2,blend_path}"}, ("art://data:v2",)),
    ("quoted-spaced", {"d": "${art: 'data:latest' , path}"}, ("art://data:latest",)),
    ("subpath-dropped", {"d": "${art:data/blend.json}"}, ("art://data",)),
    ("number-version-normalised", {"d": "${art:data:3}"}, ("art://data:v3",)),
    ("plain-uri", {"m": ["art://model:v1/ckpt"]}, ("art://model:v1",)),
    ("in-text", {"t": "x/${art:data}/y/${art:model}"}, ("art://data", "art://model")),
    ("dedup-first-seen", {"a": "${art:model}", "b": "art://model", "c": "${art:data}"},
     ("art://model", "art://data")),
    ("wandb-left-out", {"w": "art://ent/proj/data:v1"}, ()),
    ("other-interpolations", {"h": "${oc.env:HOME}", "n": 3, "x": None}, ()),
]


@pytest.mark.parametrize(("config", "expected"), [c[1:] for c in FIND_CASES],
                         ids=[c[0] for c in FIND_CASES])
def test_find_refs(config: Any, expected: tuple[str, ...]) -> None:
    """Each form of reference is found once, as art://NAME[:VER]."""
    assert find_refs(config) == expected


BAD_REFS = [
    ("parent-name", {"d": "${art:../etc}"}),
    ("empty-version", {"d": "art://data:"}),
    ("zero-version", {"d": "${art:data:v0}"}),
    ("bad-subpath", {"d": "art://data/a//b"}),
]


@pytest.mark.parametrize("config", [c[1] for c in BAD_REFS], ids=[c[0] for c in BAD_REFS])
def test_bad_references_are_uri_errors(config: Any) -> None:
    """A reference outside the grammar is an ArtifactURIError (exit 2), for find and pin."""
    with pytest.raises(ArtifactURIError):
        find_refs(config)
    with pytest.raises(ArtifactURIError):
        pin_refs(config, fake_resolve)


def test_interpolations_and_uris_are_pinned() -> None:
    """Every reference gets its exact version; fields, subpaths and other text survive."""
    config = {
        "data": "${art:data,path}",
        "nested": {"blend": "prefix/${art:'data:latest', blend_path}/x", "n": 1},
        "model": ["art://model/ckpt/last", "${oc.env:HOME}"],
    }
    pinned, inputs = pin_refs(config, fake_resolve)
    assert pinned == {
        "data": "${art:data:v3,path}",
        "nested": {"blend": "prefix/${art:data:v3, blend_path}/x", "n": 1},
        "model": ["art://model:v7/ckpt/last", "${oc.env:HOME}"],
    }
    assert {i.ref: i.uri for i in inputs} == {
        "art://data": "art://data:v3",
        "art://data:latest": "art://data:v3",
        "art://model": "art://model:v7",
    }


def test_each_reference_resolves_once() -> None:
    """The same reference used three times costs one resolution."""
    calls: list[str] = []

    def counting(ref: str) -> PinnedInput:
        calls.append(ref)
        return fake_resolve(ref)

    pin_refs({"a": "${art:data}", "b": "${art:data,total_tokens}", "c": "art://data"}, counting)
    assert calls == ["art://data"]


def test_fixed_pins_win_over_latest() -> None:
    """A rerun's recorded pins are used even when a newer version exists."""
    pinned, inputs = pin_refs({"d": "${art:data}"}, fake_resolve,
                              fixed={"art://data": "art://data:v1"})
    assert pinned == {"d": "${art:data:v1}"}
    assert inputs[0].path == "/store/data/v1"


def test_deferred_names_stay_as_written() -> None:
    """An input an upstream job publishes later is left for the job and listed as deferred."""
    config = {"d": "${art:data}", "m": "art://model/ckpt"}
    pinned, inputs = pin_refs(config, fake_resolve, defer=["model"])
    assert pinned == {"d": "${art:data:v3}", "m": "art://model/ckpt"}
    assert [(i.ref, i.deferred, i.name) for i in inputs] == [
        ("art://data", False, "data"), ("art://model", True, "model")]


def test_unknown_artifact_propagates() -> None:
    """A reference to a missing artifact raises the resolver's error (nothing is guessed)."""
    with pytest.raises(LookupError):
        pin_refs({"d": "${art:nope}"}, fake_resolve)


# -- round trips ------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,8}", fullmatch=True)
versions = st.one_of(st.none(), st.just("latest"), st.integers(1, 99).map(lambda n: f"v{n}"),
                     st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(
                         lambda a: a != "latest" and not (a[0] == "v" and a[1:].isdigit())))
subpaths = st.one_of(st.none(), st.from_regex(r"[a-z0-9_]{1,6}(/[a-z0-9_.]{1,6}){0,2}",
                                              fullmatch=True).filter(
                                                  lambda p: ".." not in p.split("/")
                                                  and "." not in p.split("/")))
fields = st.one_of(st.none(), st.sampled_from(["path", "uri", "blend_path", "total_tokens"]))


@st.composite
def references(draw: st.DrawFn) -> tuple[str, str, str | None, str | None, bool]:
    """(name, spec as written, subpath, field, as interpolation?)."""
    name = draw(names)
    version = draw(versions)
    spec = name + (f":{version}" if version else "")
    return name, spec, draw(subpaths), draw(fields), draw(st.booleans())


def _render(spec: str, subpath: str | None, field: str | None, interpolation: bool) -> str:
    body = spec + (f"/{subpath}" if subpath else "")
    if interpolation:
        return "${art:" + body + (f",{field}" if field else "") + "}"
    return "art://" + body


def _any_resolve(ref: str) -> PinnedInput:
    parsed = parse_art_uri(ref)
    number = int(parsed.version[1:]) if parsed.version and parsed.version[1:].isdigit() \
        and parsed.version.startswith("v") else 5
    return PinnedInput(ref, f"art://{parsed.name}:v{number}", "/p", "Artifact")


@given(st.lists(references(), min_size=1, max_size=4))
def test_pin_round_trip(refs: list[tuple[str, str, str | None, str | None, bool]]) -> None:
    """Pinning keeps every reference findable, pins each to NAME:vN, and is idempotent."""
    config = {f"k{i}": _render(spec, sub, field, interp)
              for i, (_, spec, sub, field, interp) in enumerate(refs)}
    found = find_refs(config)
    assert {parse_art_uri(r).name for r in found} == {r[0] for r in refs}
    pinned, inputs = pin_refs(config, _any_resolve)
    assert {i.ref for i in inputs} == set(found)
    for ref in find_refs(pinned):
        parsed = parse_art_uri(ref)
        assert isinstance(parsed, ArtURI) and parsed.pinned_version is not None
    again, _ = pin_refs(pinned, _any_resolve)
    assert again == pinned
    for (_, _, sub, field, interp), value in zip(refs, pinned.values(), strict=True):
        assert value.startswith("${art:" if interp else "art://")
        if sub:
            assert f"/{sub}" in value
        if field and interp:
            assert value.endswith(f",{field}}}")


@given(st.lists(references(), min_size=1, max_size=4), st.data())
def test_deferred_round_trip(refs: list[tuple[str, str, str | None, str | None, bool]],
                             data: st.DataObject) -> None:
    """Deferring a name leaves exactly its references untouched, and the rest pinned."""
    config = {f"k{i}": _render(spec, sub, field, interp)
              for i, (_, spec, sub, field, interp) in enumerate(refs)}
    deferred = data.draw(st.sets(st.sampled_from([r[0] for r in refs])))
    pinned, inputs = pin_refs(config, _any_resolve, defer=deferred)
    for (name, *_), key in zip(refs, config, strict=True):
        if name in deferred:
            assert pinned[key] == config[key]
    assert {i.name for i in inputs if i.deferred} == set(deferred)
