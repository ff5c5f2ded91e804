"""apply_hydra_overrides: Hydra's grammar, strict key rules, and every bad override."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from kit_config import ConfigError, OverrideError, apply_hydra_overrides, compose

BASE = {
    "train": {"lr": 0.1, "steps": 10, "tags": ["a"], "opt": {"name": "adam", "beta": 0.9}},
    "name": "run",
    "nothing": None,
    "items": [1, 2, 3],
}


def _cfg() -> Any:
    return OmegaConf.create(BASE)


def _raw(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=False)


GOOD = [
    pytest.param(["train.lr=0.5"], ("train", "lr"), 0.5, id="change-float"),
    pytest.param(["name=other"], ("name",), "other", id="change-str"),
    pytest.param(["+train.wd=0.01"], ("train", "wd"), 0.01, id="add-new"),
    pytest.param(["+new.deep.key=1"], ("new", "deep", "key"), 1, id="add-deep"),
    pytest.param(["++train.lr=2"], ("train", "lr"), 2, id="force-add-existing"),
    pytest.param(["++fresh=x"], ("fresh",), "x", id="force-add-new"),
    pytest.param(["train.tags=[b,c]"], ("train", "tags"), ["b", "c"], id="list"),
    pytest.param(
        ["train.opt={name:sgd,momentum:0.9}"],
        ("train", "opt"),
        {"name": "sgd", "beta": 0.9, "momentum": 0.9},
        id="dict-merges",
    ),
    pytest.param(["name='hello world'"], ("name",), "hello world", id="quoted-string"),
    pytest.param(['name="a,b"'], ("name",), "a,b", id="quoted-comma-not-sweep"),
    pytest.param(["name=null"], ("name",), None, id="null"),
    pytest.param(["nothing=3"], ("nothing",), 3, id="change-null-key"),
    pytest.param(["name=${train.lr}"], ("name",), "${train.lr}", id="interpolation-kept"),
    pytest.param(["name='${oc.env:HOME}'"], ("name",), "${oc.env:HOME}", id="quoted-interpolation"),
    pytest.param(["items.1=20"], ("items",), [1, 20, 3], id="list-index"),
    pytest.param(["train.lr=1e-3"], ("train", "lr"), 1e-3, id="scientific"),
    pytest.param(["name=true"], ("name",), True, id="bool"),
    pytest.param(["name="], ("name",), "", id="empty-value"),
    pytest.param(["train.lr=int(3.7)"], ("train", "lr"), 3, id="cast-function"),
    pytest.param(["train.lr=1", "train.lr=2"], ("train", "lr"), 2, id="last-wins"),
]


@pytest.mark.parametrize(("overrides", "path", "expected"), GOOD)
def test_good_overrides(overrides: list[str], path: tuple[str, ...], expected: Any) -> None:
    """Each override form sets the value Hydra's grammar means."""
    out = _raw(apply_hydra_overrides(_cfg(), overrides))
    for part in path:
        out = out[part]
    assert out == expected


def test_original_is_untouched() -> None:
    """apply_hydra_overrides returns a new config and leaves its input as it was."""
    cfg = _cfg()
    new = apply_hydra_overrides(cfg, ["train.lr=9", "~name"])
    assert _raw(cfg) == BASE
    assert new.train.lr == 9 and "name" not in new


@pytest.mark.parametrize(
    ("overrides", "gone"),
    [
        pytest.param(["~name"], "name", id="delete"),
        pytest.param(["~train.opt"], "opt", id="delete-subtree"),
        pytest.param(["~name=run"], "name", id="delete-if-value"),
        pytest.param(["~nothing"], "nothing", id="delete-null-valued"),
    ],
)
def test_delete(overrides: list[str], gone: str) -> None:
    """`~key` and `~key=value` delete the key."""
    out = _raw(apply_hydra_overrides(_cfg(), overrides))
    assert gone not in out and gone not in out["train"]


def test_delete_list_item() -> None:
    """`~items.0` deletes a list element."""
    assert _raw(apply_hydra_overrides(_cfg(), ["~items.0"]))["items"] == [2, 3]


BAD = [
    pytest.param("trian.lr=1", "unknown key 'trian.lr'", "train.lr", id="unknown-top-typo"),
    pytest.param("train.lrr=1", "unknown key 'train.lrr'", "train.lr", id="unknown-leaf-typo"),
    pytest.param("zzz=1", "unknown key 'zzz'", None, id="unknown-no-suggestion"),
    pytest.param("name.sub=1", "unknown key 'name.sub'", None, id="below-a-scalar"),
    pytest.param("items.7=1", "unknown key 'items.7'", None, id="list-index-out-of-range"),
    pytest.param("+name=x", "already exists", None, id="add-existing"),
    pytest.param("+nothing=x", "already exists", None, id="add-existing-null"),
    pytest.param("~nope", "unknown key 'nope'", None, id="delete-missing"),
    pytest.param("~name=other", "its value is 'run'", None, id="delete-wrong-value"),
    pytest.param("a.b=[1,2", "malformed override", None, id="unclosed-list"),
    pytest.param("a.b={x:1", "malformed override", None, id="unclosed-dict"),
    pytest.param("a b", "malformed override", None, id="space-in-key"),
    pytest.param("a=b=c", "malformed override", None, id="two-equals"),
    pytest.param("name", "malformed override", None, id="no-equals"),
    pytest.param("=1", "the key is empty", None, id="empty-key"),
    pytest.param("train.lr=int(abc)", "malformed override", None, id="bad-cast"),
    pytest.param("train.lr=1,2", "sweep override", None, id="sweep-simple"),
    pytest.param("train.lr=range(1,5)", "sweep override", None, id="sweep-range"),
    pytest.param("train.lr=choice(1,2)", "sweep override", None, id="sweep-choice"),
    pytest.param("name=glob(*)", "sweep override", None, id="sweep-glob"),
    pytest.param("train.lr=interval(0,1)", "sweep override", None, id="sweep-interval"),
    pytest.param("db=mysql@x", "unknown key 'db'", None, id="unknown-odd-value"),
    pytest.param("optim/adam=x", "config group override", None, id="config-group"),
    pytest.param("name@pkg=x", "config group override", None, id="package"),
]


@pytest.mark.parametrize(("override", "fragment", "suggestion"), BAD)
def test_bad_overrides(override: str, fragment: str, suggestion: str | None) -> None:
    """Every bad override is an OverrideError: one line naming the override, with a hint."""
    with pytest.raises(OverrideError) as info:
        apply_hydra_overrides(_cfg(), [override])
    err = info.value
    assert fragment in str(err)
    assert "\n" not in str(err)
    assert err.override == override
    assert err.suggestion == suggestion
    if suggestion:
        assert f"did you mean {suggestion!r}" in str(err)


def test_malformed_lexer_error_has_caret() -> None:
    """A lexer error carries an excerpt with a caret at the bad character."""
    with pytest.raises(OverrideError) as info:
        apply_hydra_overrides(_cfg(), ["ab!c=1"])
    excerpt = info.value.excerpt  # type: ignore[attr-defined]
    line, caret = excerpt.splitlines()
    assert line == "ab!c=1" and caret.index("^") == 2


def test_a_failing_override_changes_nothing() -> None:
    """Overrides parse before any applies: a bad one leaves the input config untouched."""
    cfg = _cfg()
    with pytest.raises(OverrideError):
        apply_hydra_overrides(cfg, ["train.lr=5", "a=[1"])
    assert _raw(cfg) == BASE


def test_one_string_instead_of_a_list() -> None:
    """Passing one string (not a list) is an error, not a character-by-character parse."""
    with pytest.raises(OverrideError, match="list of strings"):
        apply_hydra_overrides(_cfg(), "train.lr=1")


def test_secret_value_is_masked_in_errors() -> None:
    """An error about a secret key's override never shows the secret value."""
    with pytest.raises(OverrideError) as info:
        apply_hydra_overrides(_cfg(), ["wandb.api_key=s3cr3t"])
    assert "s3cr3t" not in str(info.value)
    assert info.value.override == "wandb.api_key=***"


def test_override_location_is_reported_by_compose(tmp_path: Any) -> None:
    """Keys set by an override remember the override as their origin."""
    from kit_config._sources import sources_of

    path = tmp_path / "c.yaml"
    path.write_text("a: 1\n")
    cfg = compose(path, ["a=2"])
    info = sources_of(cfg)
    assert info is not None and info.locations["a"].file == "override 'a=2'"


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.text(max_size=30), max_size=3))
def test_arbitrary_strings_raise_only_config_errors(overrides: list[str]) -> None:
    """Whatever strings come in as overrides, only kit-config's own error type escapes."""
    try:
        apply_hydra_overrides(_cfg(), overrides)
    except ConfigError:
        pass


@settings(max_examples=100, deadline=None, database=None)
@given(
    st.lists(
        st.from_regex(r"[+~]{0,2}[a-z]{1,5}(\.[a-z0-9]{1,4}){0,2}(=[^\n]{0,12})?", fullmatch=True),
        max_size=4,
    )
)
def test_override_shaped_strings_raise_only_config_errors(overrides: list[str]) -> None:
    """Near-valid overrides (real key shapes, odd values) also raise only ConfigError."""
    try:
        apply_hydra_overrides(_cfg(), overrides)
    except ConfigError:
        pass
