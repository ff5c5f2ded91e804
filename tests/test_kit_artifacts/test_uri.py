"""The one `art://` grammar: accepted forms, rejected forms, and a parse/print round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit_artifacts import ArtifactURIError, ArtURI, WandbArtURI, parse_art_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("art://data", ArtURI("data", None, None), id="name-only"),
        pytest.param("art://data:latest", ArtURI("data", "latest", None), id="latest"),
        pytest.param("art://data:v3", ArtURI("data", "v3", None), id="vN"),
        pytest.param("art://data:3", ArtURI("data", "v3", None), id="bare-number"),
        pytest.param("art://data:best", ArtURI("data", "best", None), id="alias"),
        pytest.param(
            "art://n3.pre_data-1:v12/a/b.json",
            ArtURI("n3.pre_data-1", "v12", "a/b.json"),
            id="subpath",
        ),
        pytest.param(
            "art://data/blend.json", ArtURI("data", None, "blend.json"), id="subpath-no-version"
        ),
        pytest.param(
            "art://team/proj/model:v2", WandbArtURI("team", "proj", "model", "v2"), id="wandb-form"
        ),
    ],
)
def test_parse_accepts(text: str, expected: object) -> None:
    """Valid URIs parse to the expected structure."""
    assert parse_art_uri(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("data:v1", id="no-scheme"),
        pytest.param("art://", id="empty"),
        pytest.param("art://../etc", id="dotdot-name"),
        pytest.param("art://a..b", id="dotdot-inside-name"),
        pytest.param("art://.hidden", id="leading-dot"),
        pytest.param("art://-x", id="leading-dash"),
        pytest.param("art://data:v0", id="version-zero"),
        pytest.param("art://data:", id="empty-version"),
        pytest.param("art://data:v1/../../etc/passwd", id="subpath-traversal"),
        pytest.param("art://data:v1//x", id="empty-segment"),
        pytest.param("art://data:v1/", id="trailing-slash"),
        pytest.param("art://da ta", id="space-in-name"),
        pytest.param("art://data:bad alias", id="bad-alias"),
        pytest.param("art://data:1abc", id="alias-starting-with-digit"),
        pytest.param("s3://bucket/x", id="other-scheme"),
        pytest.param("art://team/proj/:v1", id="wandb-missing-name"),
    ],
)
def test_parse_rejects(text: str) -> None:
    """Malformed URIs raise ArtifactURIError (a ValueError) naming the URI."""
    with pytest.raises(ArtifactURIError) as info:
        parse_art_uri(text)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)
    assert info.value.uri == text


def test_bare_form_only_when_allowed() -> None:
    """`NAME:VER` without the scheme parses only with allow_bare."""
    assert parse_art_uri("data:v2", allow_bare=True) == ArtURI("data", "v2", None)
    with pytest.raises(ArtifactURIError):
        parse_art_uri("data:v2")


_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
_versions = st.one_of(
    st.none(),
    st.just("latest"),
    st.integers(1, 10**6).map(lambda n: f"v{n}"),
    st.from_regex(r"[A-Za-z][A-Za-z_-]{0,10}", fullmatch=True).filter(lambda a: a != "v"),
)
_subpaths = st.one_of(
    st.none(),
    st.lists(
        st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True).filter(
            lambda s: s not in (".", "..")
        ),
        min_size=1,
        max_size=3,
    ).map("/".join),
)


@given(_names, _versions, _subpaths)
def test_round_trip(name: str, version: str | None, subpath: str | None) -> None:
    """str(ArtURI) parses back to the same ArtURI."""
    uri = ArtURI(name, version, subpath)
    assert parse_art_uri(str(uri)) == uri
