"""structure(): typed configs through cattrs, every problem at once, with file and line."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from kit_config import (
    ConfigValidationError,
    InterpolationError,
    compose,
    structure,
    to_container,
    unstructure,
)

Write = Callable[[str, str], Path]


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@attrs.define
class Optim:
    name: Literal["adam", "sgd"] = "adam"
    betas: list[float] = attrs.Factory(lambda: [0.9, 0.99])


@attrs.define
class Train:
    lr: float
    steps: int = 10
    optim: Optim = attrs.Factory(Optim)


@dataclasses.dataclass
class Config:
    train: Train
    name: str
    out: Path | None = None
    mode: Mode = Mode.FAST
    tags: list[str] = dataclasses.field(default_factory=list)
    weights: dict[str, float] = dataclasses.field(default_factory=dict)
    seed: int | None = None
    flag: bool = False


def test_structure_nested_types() -> None:
    """Nested attrs/dataclasses, Path, Optional, Literal, enums, lists and dicts structure."""
    cfg = OmegaConf.create(
        {
            "train": {"lr": 1, "optim": {"name": "sgd", "betas": [0.5, 1]}},
            "name": "r",
            "out": "/tmp/x",
            "mode": "slow",
            "tags": ["a"],
            "weights": {"a": 1, "b": 0.5},
            "seed": None,
            "flag": "true",
        }
    )
    obj = structure(cfg, Config)
    assert obj.train == Train(lr=1.0, steps=10, optim=Optim("sgd", [0.5, 1.0]))
    assert isinstance(obj.train.lr, float)
    assert obj.out == Path("/tmp/x")
    assert obj.mode is Mode.SLOW
    assert obj.weights == {"a": 1.0, "b": 0.5}
    assert obj.flag is True


def test_structure_resolves_interpolations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interpolations and `${oc.env:VAR,default}` resolve before typing."""
    monkeypatch.setenv("KIT_TEST_NAME", "from-env")
    monkeypatch.delenv("KIT_TEST_UNSET", raising=False)
    cfg = OmegaConf.create(
        {
            "train": {"lr": 0.5, "steps": "${oc.env:KIT_TEST_UNSET,7}"},
            "name": "${oc.env:KIT_TEST_NAME}",
            "tags": ["${name}"],
        }
    )
    obj = structure(cfg, Config)
    assert (obj.name, obj.train.steps, obj.tags) == ("from-env", 7, ["from-env"])


def test_enum_accepts_member_name() -> None:
    """An enum field accepts the member's value or its name."""
    cfg = OmegaConf.create({"train": {"lr": 1}, "name": "n", "mode": "SLOW"})
    assert structure(cfg, Config).mode is Mode.SLOW


def test_plain_dict_is_accepted() -> None:
    """structure() also takes a plain dict."""
    assert structure({"train": {"lr": 2}, "name": "x"}, Config).train.lr == 2.0


def test_every_problem_reported_with_file_and_line(write: Write) -> None:
    """All problems come at once, each with key path and file:line (or the override)."""
    path = write(
        "config.yaml",
        "train:\n"  # 1
        "  lr: abc\n"  # 2
        "  stepz: 3\n"  # 3
        "  optim:\n"  # 4
        "    name: adm\n"  # 5
        "name: ???\n"  # 6
        "mode: medium\n"  # 7
        "tags: notalist\n"  # 8
        "seed: 1.5\n",  # 9
    )
    cfg = compose(path, ["++flag=maybe"])
    with pytest.raises(ConfigValidationError) as info:
        structure(cfg, Config)
    err = info.value
    got = {p.path: (p.message, p.line) for p in err.problems}
    assert got["train.lr"] == ("expected float, got 'abc'", 2)
    assert got["train.stepz"][0] == "unknown key 'stepz' (did you mean 'steps'?)"
    assert got["train.stepz"][1] == 3
    assert got["train.optim.name"][0].startswith("expected one of 'adam', 'sgd', got 'adm'")
    assert "did you mean 'adam'" in got["train.optim.name"][0]
    assert got["name"] == ("missing required value (???)", 6)
    assert got["mode"][1] == 7 and "'fast', 'slow'" in got["mode"][0]
    assert got["tags"] == ("expected a list (list[str]), got 'notalist'", 8)
    assert got["seed"][1] == 9 and "expected" in got["seed"][0]
    assert got["flag"] == ("expected bool, got 'maybe'", None)
    flag = next(p for p in err.problems if p.path == "flag")
    assert flag.file == "override '++flag=maybe'"
    assert len(err.problems) == 8
    assert "\n" not in str(err)
    assert "expected float, got 'abc' @ train.lr (" in str(err) and "config.yaml:2)" in str(err)


BAD_VALUES = [
    pytest.param(
        {"train": {"lr": "x"}, "name": "n"}, "train.lr", "expected float", id="float-from-text"
    ),
    pytest.param(
        {"train": {"lr": 1, "steps": 2.5}, "name": "n"},
        "train.steps",
        "expected int",
        id="int-from-fraction",
    ),
    pytest.param(
        {"train": {"lr": 1, "steps": True}, "name": "n"},
        "train.steps",
        "expected int",
        id="int-from-bool",
    ),
    pytest.param({"train": {"lr": 1}, "name": [1]}, "name", "expected str", id="str-from-list"),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "flag": 1}, "flag", "expected bool", id="bool-from-int"
    ),
    pytest.param({"train": 5, "name": "n"}, "train", "expected a mapping", id="class-from-scalar"),
    pytest.param({"name": "n"}, "train", "missing required field", id="missing-field"),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "weights": [1]},
        "weights",
        "expected a mapping",
        id="dict-from-list",
    ),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "weights": {"a": "x"}},
        "weights.a",
        "expected float",
        id="dict-value",
    ),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "tags": ["a", {"b": 1}]},
        "tags[1]",
        "expected str",
        id="list-item",
    ),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "out": 3.5}, "out", "expected", id="path-from-float"
    ),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "seed": "abc"}, "seed", "expected", id="optional-int"
    ),
    pytest.param(
        {"train": {"lr": 1}, "name": "n", "nmae": 1},
        "nmae",
        "did you mean 'name'",
        id="unknown-top-key",
    ),
]


@pytest.mark.parametrize(("data", "path", "fragment"), BAD_VALUES)
def test_bad_values(data: dict[str, Any], path: str, fragment: str) -> None:
    """Each type mismatch is reported at its key path with a readable message."""
    with pytest.raises(ConfigValidationError) as info:
        structure(OmegaConf.create(data), Config)
    problems = {p.path: p.message for p in info.value.problems}
    assert path in problems, problems
    assert fragment in problems[path]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("${nope.key}", "cannot resolve ${nope.key}", id="missing-interpolation-key"),
        pytest.param("${oc.env:KIT_SURELY_UNSET_VAR}", "KIT_SURELY_UNSET_VAR", id="unset-env-var"),
        pytest.param(
            "${no_such_resolver:1}", "unknown resolver 'no_such_resolver'", id="unknown-resolver"
        ),
        pytest.param("${oc.enb:HOME}", "did you mean 'oc.env'", id="resolver-typo"),
    ],
)
def test_unresolvable_interpolations(
    value: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interpolations that cannot resolve are problems at their key path, not tracebacks."""
    monkeypatch.delenv("KIT_SURELY_UNSET_VAR", raising=False)
    cfg = OmegaConf.create({"train": {"lr": 1}, "name": value})
    with pytest.raises(ConfigValidationError) as info:
        structure(cfg, Config)
    (problem,) = info.value.problems
    assert problem.path == "name" and fragment in problem.message


def test_to_container_raises_interpolation_error(write: Write) -> None:
    """to_container() reports an unresolvable interpolation as InterpolationError with context."""
    cfg = compose(write("c.yaml", "a: 1\nb: ${missing}\nc: ${also.missing}\n"))
    with pytest.raises(InterpolationError) as info:
        to_container(cfg)
    err = info.value
    assert (err.key_path, err.expression, err.line) == ("b", "${missing}", 2)
    assert "(and 1 more)" in str(err)


def test_to_container_keeps_missing_marker() -> None:
    """to_container() keeps `???` values (they are not errors until structure())."""
    assert to_container(OmegaConf.create({"a": "???"})) == {"a": "???"}


def test_structure_rejects_non_config_class() -> None:
    """structure() into something that is not an attrs class or dataclass is a TypeError."""
    with pytest.raises(TypeError):
        structure({}, dict)


def test_structure_of_top_level_non_mapping() -> None:
    """A top-level list is reported as a problem at the root."""
    with pytest.raises(ConfigValidationError, match="expected a mapping"):
        structure(OmegaConf.create([1, 2]), Config)


def test_unstructure_round_trip() -> None:
    """unstructure() gives plain data that structures back to an equal object."""
    obj = Config(train=Train(lr=0.1), name="n", out=Path("/x"), mode=Mode.SLOW, tags=["a"])
    data = unstructure(obj)
    assert data["out"] == "/x" and data["mode"] == "slow"
    assert structure(data, Config) == obj


@settings(max_examples=60, deadline=None, database=None)
@given(
    lr=st.floats(allow_nan=False, allow_infinity=False),
    steps=st.integers(-(2**40), 2**40),
    name=st.text(max_size=20),
    tags=st.lists(st.text(max_size=8), max_size=4),
    weights=st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True),
        st.floats(allow_nan=False, allow_infinity=False),
        max_size=3,
    ),
)
def test_hypothesis_unstructure_structure_round_trip(
    lr: float, steps: int, name: str, tags: list[str], weights: dict[str, float]
) -> None:
    """Any valid typed config survives unstructure -> OmegaConf -> structure unchanged."""
    obj = Config(train=Train(lr=lr, steps=steps), name=name, tags=tags, weights=weights)
    data = unstructure(obj)
    cfg = OmegaConf.create(data)
    assert structure(cfg, Config) == obj


def test_malformed_interpolation_in_file_is_a_file_error(write: Write) -> None:
    """A malformed `${...}` in a file fails at load time, naming the file and key."""
    from kit_config import ConfigFileError

    with pytest.raises(ConfigFileError, match="at name"):
        compose(write("c.yaml", "name: ${a\n"))


@attrs.frozen
class _Inner:
    uri: str
    weight: float = 1.0


@attrs.frozen
class _Typed:
    count: int
    ratio: float = 0.0
    items: list[_Inner | str] = attrs.Factory(list)


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        pytest.param({"count": "4"}, "count", "expected int, got '4'", id="string-for-int"),
        pytest.param({"count": True}, "count", "expected int, got bool", id="bool-for-int"),
        pytest.param({"count": 1, "ratio": "0.5"}, "ratio", "expected float", id="str-for-float"),
        pytest.param(
            {"count": 1, "items": [{"uri": "a", "wieght": 2}]},
            "items[0].wieght",
            "did you mean 'weight'",
            id="mapping-means-the-class-member",
        ),
    ],
)
def test_structure_exact(data: dict[str, object], path: str, fragment: str) -> None:
    """Exact mode (typed sources: TOML, JSON) converts no scalar and names nested problems."""
    with pytest.raises(ConfigValidationError) as info:
        structure(data, _Typed, exact=True)
    got = {p.path: p.message for p in info.value.problems}
    assert fragment in got[path]


def test_structure_exact_accepts_typed_values() -> None:
    """An int is fine for a float (JSON cannot tell them apart); strings stay in unions."""
    out = structure({"count": 2, "ratio": 1, "items": ["s3://x", {"uri": "a"}]}, _Typed, exact=True)
    assert out == _Typed(2, 1.0, ["s3://x", _Inner("a")])
    assert structure({"count": "4"}, _Typed).count == 4  # the text mode still converts


@attrs.frozen
class _Celsius:
    """A type kit-config does not know: taught through `register_structure_hook`."""

    degrees: float


def test_registered_structure_hook_builds_fields_and_reports_at_the_key() -> None:
    """A higher package's hook builds its type; its errors are problems at the key path."""
    from kit_config import ConfigValidationError, register_structure_hook, unstructure

    def build(value: Any, tp: Any) -> _Celsius:
        if not isinstance(value, str) or not value.endswith("C"):
            raise ValueError(f"expected a temperature like '21C', got {value!r}")
        return _Celsius(float(value[:-1]))

    register_structure_hook(lambda tp: tp is _Celsius, build,
                            unstructure=lambda c: f"{c.degrees:g}C")

    @attrs.define
    class Room:
        temp: _Celsius
        spare: _Celsius | None = None

    room = structure(OmegaConf.create({"temp": "21C"}), Room)
    assert room.temp == _Celsius(21.0) and room.spare is None
    assert unstructure(room) == {"temp": "21C", "spare": None}
    with pytest.raises(ConfigValidationError) as info:
        structure(OmegaConf.create({"temp": 21, "spare": "x"}), Room)
    assert sorted(p.path for p in info.value.problems) == ["spare", "temp"]
    assert "expected a temperature like '21C', got 21" in str(info.value)
