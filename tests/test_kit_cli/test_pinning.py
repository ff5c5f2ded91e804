"""Pinning `${art:...}` interpolations and `art://` strings to exact versions."""
from __future__ import annotations

import pytest

from kit_cli._pinning import PinnedInput, pin_config

VERSIONS = {"data": 3, "model": 7}


def fake_resolve(ref: str) -> PinnedInput:
    """Resolve art://NAME[:VER] against a fixed table (latest = highest version)."""
    name, _, version = ref.removeprefix("art://").partition(":")
    if name not in VERSIONS:
        raise LookupError(name)
    number = int(version.removeprefix("v")) if version not in ("", "latest") else VERSIONS[name]
    return PinnedInput(ref, f"art://{name}:v{number}", f"/store/{name}/v{number}", "Artifact")


def test_interpolations_and_uris_are_pinned():
    """Every reference gets its exact version; fields, subpaths and other text survive."""
    config = {
        "data": "${art:data,path}",
        "nested": {"blend": "prefix/${art:'data:latest', blend_path}/x", "n": 1},
        "model": ["art://model/ckpt/last", "${oc.env:HOME}"],
    }
    pinned, inputs = pin_config(config, fake_resolve)
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


def test_fixed_pins_win_over_latest():
    """A rerun's recorded pins are used even when a newer version exists."""
    pinned, inputs = pin_config({"d": "${art:data}"}, fake_resolve, {"art://data": "art://data:v1"})
    assert pinned == {"d": "${art:data:v1}"}
    assert inputs[0].path == "/store/data/v1"


def test_unknown_artifact_propagates():
    """A reference to a missing artifact raises the resolver's error (nothing is guessed)."""
    with pytest.raises(LookupError):
        pin_config({"d": "${art:nope}"}, fake_resolve)
