"""load_config: YAML/TOML/JSON by extension, `defaults:` inheritance, and every bad-file case."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from kit_config import (
    ConfigFileError,
    ConfigNotFoundError,
    compose,
    load_config,
    load_omegaconf_yaml,
    to_container,
)

Write = Callable[[str, str], Path]

SAME = {
    "c.yaml": "model:\n  size: 8b\n  layers: 4\nlr: 1e-4\ntags: [a, b]\nflag: true\nnone: null\n",
    "c.toml": 'lr = 1e-4\ntags = ["a", "b"]\nflag = true\n[model]\nsize = "8b"\nlayers = 4\n',
    "c.json": '{"model": {"size": "8b", "layers": 4}, "lr": 1e-4, "tags": ["a", "b"],'
    ' "flag": true}',
}


@pytest.mark.parametrize("name", sorted(SAME), ids=lambda n: n.split(".")[1])
def test_formats_load_the_same_values(write: Write, name: str) -> None:
    """The same config in YAML, TOML and JSON loads to the same values (YAML's 1e-4 is a float)."""
    cfg = load_config(write(name, SAME[name]))
    assert isinstance(cfg, DictConfig)
    data = to_container(cfg)
    data.pop("none", None)
    assert data == {
        "model": {"size": "8b", "layers": 4},
        "lr": 1e-4,
        "tags": ["a", "b"],
        "flag": True,
    }


def test_load_omegaconf_yaml_is_the_overview_name(write: Write) -> None:
    """load_omegaconf_yaml (the earlier kit's name) loads like load_config."""
    path = write("c.yaml", "a: 1\n")
    assert load_omegaconf_yaml(path) == load_config(path)


def test_yml_extension_and_uppercase(write: Write) -> None:
    """`.yml` and upper-case extensions are recognised."""
    assert load_config(write("a.yml", "a: 1\n")).a == 1
    assert load_config(write("B.YAML", "b: 2\n")).b == 2


def test_interpolations_stay_unresolved(write: Write) -> None:
    """load_config keeps `${...}` as written; to_container resolves it."""
    cfg = load_config(write("c.yaml", "a: 2\nb: ${a}\n"))
    assert OmegaConf.to_container(cfg, resolve=False) == {"a": 2, "b": "${a}"}
    assert to_container(cfg) == {"a": 2, "b": 2}


def test_toml_dates_become_iso_strings(write: Write) -> None:
    """TOML dates (which OmegaConf cannot hold) load as ISO text."""
    cfg = load_config(write("c.toml", "day = 2024-05-01\n"))
    assert cfg.day == "2024-05-01"


def test_defaults_merge_in_order_with_self_last(write: Write) -> None:
    """`defaults:` files merge in order, the file's own keys last; nested dicts merge."""
    write("base.yaml", "train:\n  lr: 0.1\n  steps: 10\nname: base\n")
    write("extra.toml", "[train]\nsteps = 20\n")
    cfg = load_config(write("run.yaml", "defaults: [base.yaml, extra.toml]\ntrain:\n  lr: 0.5\n"))
    assert to_container(cfg) == {"train": {"lr": 0.5, "steps": 20}, "name": "base"}


def test_defaults_self_first_lets_defaults_win(write: Write) -> None:
    """Listing `_self_` first puts the file's own keys under its defaults (Hydra's rule)."""
    write("base.yaml", "a: 1\n")
    cfg = load_config(write("run.yaml", "defaults: [_self_, base]\na: 2\nb: 3\n"))
    assert to_container(cfg) == {"a": 1, "b": 3}


def test_defaults_relative_to_the_naming_file(write: Write) -> None:
    """A `defaults:` path is relative to the file naming it, at every level, extension optional."""
    write("common/model.yaml", "model: {layers: 2}\n")
    write("common/train.yaml", "defaults: model\ntrain: {lr: 1}\n")
    cfg = load_config(write("exp/run.json", '{"defaults": "../common/train.yaml", "x": 1}'))
    assert to_container(cfg) == {"model": {"layers": 2}, "train": {"lr": 1}, "x": 1}


def test_compose_without_file_starts_empty() -> None:
    """compose(None, ...) starts from an empty config (only + adds keys then)."""
    assert to_container(compose(None, ["+a.b=1"])) == {"a": {"b": 1}}


BAD_FILES = [
    pytest.param(
        "c.yaml", "a: [1, 2\nb: 3\n", ConfigFileError, "invalid YAML", 2, id="yaml-syntax"
    ),
    pytest.param(
        "c.yaml", "a: 1\na: 2\n", ConfigFileError, "duplicate key", 2, id="yaml-duplicate-key"
    ),
    pytest.param("c.toml", "a = 1\nb = \n", ConfigFileError, "invalid TOML", 2, id="toml-syntax"),
    pytest.param(
        "c.json", '{"a": 1,\n "b": }', ConfigFileError, "invalid JSON", 2, id="json-syntax"
    ),
    pytest.param("c.yaml", "", ConfigFileError, "empty", None, id="empty-file"),
    pytest.param("c.json", "  \n", ConfigFileError, "empty", None, id="empty-json"),
    pytest.param(
        "c.yaml", "# only a comment\n", ConfigFileError, "empty", None, id="comments-only"
    ),
    pytest.param(
        "c.yaml",
        "- 1\n- 2\n",
        ConfigFileError,
        "top level must be a mapping",
        1,
        id="top-level-list",
    ),
    pytest.param(
        "c.json", "[1, 2]", ConfigFileError, "top level must be a mapping", 1, id="json-top-list"
    ),
    pytest.param(
        "c.yaml", "42\n", ConfigFileError, "top level must be a mapping", 1, id="top-level-scalar"
    ),
    pytest.param(
        "c.ini",
        "a=1\n",
        ConfigFileError,
        "unsupported config file extension",
        None,
        id="unknown-extension",
    ),
    pytest.param(
        "c.yaml", "defaults: 3\na: 1\n", ConfigFileError, "defaults", 1, id="defaults-not-a-name"
    ),
    pytest.param(
        "c.yaml", "a: !!set {x, y}\n", ConfigFileError, "unsupported value", None, id="set-value"
    ),
    pytest.param(
        "c.yaml", "a: !!python/tuple [1]\n", ConfigFileError, "invalid YAML", 1, id="unsafe-tag"
    ),
]


@pytest.mark.parametrize(("name", "text", "error", "fragment", "line"), BAD_FILES)
def test_bad_files(
    write: Write, name: str, text: str, error: type, fragment: str, line: int | None
) -> None:
    """Each malformed file gives one-line error naming the file (and line where it is known)."""
    path = write(name, text)
    with pytest.raises(error) as info:
        load_config(path)
    err = info.value
    assert fragment in str(err)
    assert "\n" not in str(err)
    assert str(path.name) in str(err)
    if line is not None:
        assert getattr(err, "line", None) == line
        assert f":{line}" in str(err)


def test_syntax_error_has_column_and_caret_excerpt(write: Write) -> None:
    """A syntax error carries line, column and an excerpt with a caret under the column."""
    path = write("c.json", '{\n  "a": 1,\n  "b": tru\n}\n')
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    err = info.value
    assert (err.line, err.column) == (3, 8)
    assert err.excerpt is not None
    src, caret = err.excerpt.splitlines()
    assert src.endswith('"b": tru')
    assert caret.index("^") == src.index("tru")


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is ConfigNotFoundError (a FileNotFoundError) naming the path."""
    with pytest.raises(ConfigNotFoundError) as info:
        load_config(tmp_path / "nope.yaml")
    assert isinstance(info.value, FileNotFoundError)
    assert "nope.yaml" in str(info.value)


def test_missing_default_names_the_referencing_file(write: Write) -> None:
    """A `defaults:` entry that does not exist names the file and line that referenced it."""
    path = write("run.yaml", "a: 1\ndefaults: [gone.yaml]\n")
    with pytest.raises(ConfigNotFoundError) as info:
        load_config(path)
    assert info.value.referenced_from == f"{path}:2"
    assert "gone.yaml" in str(info.value)


def test_defaults_cycle_prints_the_cycle(write: Write) -> None:
    """A `defaults:` cycle is an error that prints the whole cycle."""
    write("a.yaml", "defaults: b.yaml\nx: 1\n")
    write("b.yaml", "defaults: [c.yaml]\n")
    write("c.yaml", "defaults: a.yaml\n")
    with pytest.raises(ConfigFileError) as info:
        load_config(Path(write("a.yaml", "defaults: b.yaml\nx: 1\n")))
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in str(info.value)


def test_self_cycle(write: Write) -> None:
    """A file listing itself in `defaults:` is a cycle."""
    with pytest.raises(ConfigFileError, match=r"cycle: a\.yaml -> a\.yaml"):
        load_config(write("a.yaml", "defaults: a.yaml\n"))


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    """A directory named like a config file is a clear error, not a traceback."""
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_config(tmp_path / "d.yaml")


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=10).filter(lambda t: "${" not in t and "\\" not in t)
)
_keys = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda k: k != "defaults")
_trees = st.dictionaries(
    _keys,
    st.recursive(
        _scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
        max_leaves=10,
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None, database=None)
@given(_trees)
def test_hypothesis_yaml_and_json_round_trip(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, object]
) -> None:
    """Any config written as YAML or JSON loads back to the same values."""
    import yaml

    d = tmp_path_factory.mktemp("rt")
    (d / "c.json").write_text(json.dumps(data))
    (d / "c.yaml").write_text(yaml.safe_dump(data))
    assert to_container(load_config(d / "c.json")) == data
    assert to_container(load_config(d / "c.yaml")) == data
