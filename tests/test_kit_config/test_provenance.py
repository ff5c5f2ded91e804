"""Provenance: save, load, recompose; secrets masked; atomic and complete records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from kit_config import (
    ConfigNotFoundError,
    ProvenanceError,
    compose,
    load_provenance,
    recompose,
    save_provenance,
    to_container,
)

Write = Callable[[str, str], Path]


def _setup(write: Write) -> Path:
    write(
        "conf/base.yaml",
        "train:\n  lr: 0.1\n  steps: 10\nwandb:\n  api_key: ${oc.env:KIT_T_KEY,none}\n",
    )
    return write("conf/exp/run.yaml", "defaults: ../base.yaml\nname: run\ntrain:\n  steps: 20\n")


def test_round_trip_config_provenance_recompose(write: Write, tmp_path: Path) -> None:
    """config -> saved provenance -> recomposed config is equal (sources, overrides, values)."""
    root = _setup(write)
    overrides = ["train.lr=0.5", "+extra=[1,2]", "~name"]
    cfg = compose(root, overrides)
    out = tmp_path / "prov"
    target = save_provenance(
        out, config=cfg, overrides=overrides, argv=["-c", str(root), *overrides]
    )
    assert target == out / "provenance.json"
    prov = load_provenance(out)
    assert prov.schema_version == 1
    assert prov.overrides == tuple(overrides)
    assert [Path(s.path).name for s in prov.sources] == ["base.yaml", "run.yaml"]
    assert all(len(s.sha256) == 64 and s.copy for s in prov.sources)
    again = recompose(prov)
    assert to_container(again) == to_container(cfg)
    assert OmegaConf.to_container(again, resolve=False) == OmegaConf.to_container(
        cfg, resolve=False
    )
    assert prov.config == to_container(cfg) | {"wandb": {"api_key": "***"}}


def test_recompose_uses_saved_copies_not_edited_originals(write: Write, tmp_path: Path) -> None:
    """Editing the original files after the run does not change what recompose gives."""
    root = _setup(write)
    cfg = compose(root, [])
    save_provenance(tmp_path / "p", config=cfg)
    root.write_text("name: edited\n")
    assert to_container(recompose(load_provenance(tmp_path / "p")))["name"] == "run"


def test_recompose_detects_changed_copy(write: Write, tmp_path: Path) -> None:
    """A saved source whose digest no longer matches is a ProvenanceError (unless verify=False)."""
    root = _setup(write)
    save_provenance(tmp_path / "p", config=compose(root))
    prov = load_provenance(tmp_path / "p")
    copy = tmp_path / "p" / prov.sources[-1].copy  # type: ignore[operator]
    copy.write_text(copy.read_text() + "x: 1\n")
    with pytest.raises(ProvenanceError, match="changed since the run"):
        recompose(prov)
    assert recompose(prov, verify=False).x == 1


def test_secrets_masked_everywhere(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secret values never reach config.yaml, provenance.json, overrides or argv."""
    monkeypatch.setenv("KIT_T_KEY", "env-secret-123")
    root = _setup(write)
    overrides = ["+hf_token=tok-secret-456", "+db.password=pw-789"]
    cfg = compose(root, overrides)
    out = tmp_path / "p"
    save_provenance(
        out, config=cfg, overrides=overrides, argv=[*overrides, "--api-key", "argv-secret"]
    )
    for f in out.rglob("*"):
        if f.is_file():
            text = f.read_text()
            for secret in ("env-secret-123", "tok-secret-456", "pw-789", "argv-secret"):
                assert secret not in text, (f, secret)
    prov = load_provenance(out)
    assert prov.overrides == ("+hf_token=***", "+db.password=***")
    assert prov.argv[-1] == "***"
    # the secret re-supplied at rerun time reaches the config again
    again = recompose(prov, extra_overrides=["hf_token=new"])
    assert again.hf_token == "new"


def test_file_with_literal_secret_is_not_copied(write: Write, tmp_path: Path) -> None:
    """A source holding a literal secret is digested but not copied into the record."""
    path = write("c.yaml", "token: abc-literal\nx: 1\n")
    save_provenance(tmp_path / "p", config=compose(path))
    prov = load_provenance(tmp_path / "p")
    assert prov.sources[0].copy is None
    assert "abc-literal" not in "".join(
        f.read_text() for f in (tmp_path / "p").rglob("*") if f.is_file()
    )
    assert to_container(recompose(prov))["x"] == 1  # read from the original, digest verified


def test_typed_and_plain_configs_can_be_saved(tmp_path: Path) -> None:
    """A plain mapping is saved too (no sources); recompose then starts from its base."""
    save_provenance(tmp_path / "p", config={"a": 1, "b": "${a}"}, overrides=[], argv=[])
    prov = load_provenance(tmp_path / "p")
    assert prov.config == {"a": 1, "b": 1} and prov.sources == ()
    assert json.loads((tmp_path / "p" / "provenance.json").read_text())["config_digest"]


def test_unresolved_config_and_pins_are_stored_as_given(tmp_path: Path) -> None:
    """`resolve=False` resolves nothing (a missing resolver is fine) and records the pins."""
    config = {"data": "${art:d:v3}", "b": "${a}", "a": 1, "api_key": "s3cr3t"}
    save_provenance(tmp_path / "p", config=config, resolve=False, pins={"art://d": "art://d:v3"},
                    overrides=[], argv=[])
    prov = load_provenance(tmp_path / "p")
    assert prov.config == {"data": "${art:d:v3}", "b": "${a}", "a": 1, "api_key": "***"}
    assert prov.pins == {"art://d": "art://d:v3"}
    save_provenance(tmp_path / "q", config={"a": 1}, overrides=[], argv=[])
    assert load_provenance(tmp_path / "q").pins == {}


def test_unresolvable_config_writes_nothing(write: Write, tmp_path: Path) -> None:
    """A config that cannot resolve raises before any file is written."""
    from kit_config import InterpolationError

    cfg = compose(write("c.yaml", "a: ${missing}\n"))
    with pytest.raises(InterpolationError):
        save_provenance(tmp_path / "p", config=cfg)
    assert not (tmp_path / "p").exists()


def test_no_temp_files_left(write: Write, tmp_path: Path) -> None:
    """Atomic writes leave no temporary files behind."""
    save_provenance(tmp_path / "p", config=compose(_setup(write)))
    assert not [f for f in (tmp_path / "p").rglob(".*") if f.is_file()]


BAD_RECORDS = [
    pytest.param(None, ConfigNotFoundError, "no provenance record", id="missing-record"),
    pytest.param("{not json", ProvenanceError, "not JSON", id="not-json"),
    pytest.param("[1]", ProvenanceError, "missing kind", id="not-an-object"),
    pytest.param(
        '{"kind": "kit_config.provenance", "schema_version": 99}',
        ProvenanceError,
        "schema version 99",
        id="future-schema",
    ),
    pytest.param(
        '{"kind": "kit_config.provenance", "schema_version": 1}',
        ProvenanceError,
        "missing or malformed field",
        id="missing-fields",
    ),
]


@pytest.mark.parametrize(("text", "error", "fragment"), BAD_RECORDS)
def test_bad_records(tmp_path: Path, text: str | None, error: type, fragment: str) -> None:
    """A missing, corrupt, foreign or future record is a clear one-line error."""
    if text is not None:
        (tmp_path / "provenance.json").write_text(text)
    with pytest.raises(error) as info:
        load_provenance(tmp_path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_missing_source_on_recompose(write: Write, tmp_path: Path) -> None:
    """A saved source copy that disappeared is a ConfigNotFoundError naming it."""
    root = _setup(write)
    save_provenance(tmp_path / "p", config=compose(root))
    prov = load_provenance(tmp_path / "p")
    (tmp_path / "p" / prov.sources[0].copy).unlink()  # type: ignore[operator]
    with pytest.raises(ConfigNotFoundError, match="base.yaml"):
        recompose(prov)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.text(alphabet="abc xyz-_.", max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), _values, min_size=1, max_size=4)
)
def test_hypothesis_yaml_round_trip(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, object]
) -> None:
    """Any plain config written to YAML, saved and recomposed comes back equal."""
    d = tmp_path_factory.mktemp("h")
    path = d / "c.yaml"
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(data)))
    cfg = compose(path)
    save_provenance(d / "p", config=cfg)
    again = recompose(load_provenance(d / "p"))
    assert to_container(again) == to_container(cfg) == data


def test_defaults_come_from_the_composition(write: Write, tmp_path: Path) -> None:
    """Without overrides/argv arguments, the composition's overrides and sys.argv are saved."""
    import sys

    cfg = compose(_setup(write), ["train.lr=0.7"])
    save_provenance(tmp_path / "p", config=cfg)
    prov = load_provenance(tmp_path / "p")
    assert prov.overrides == ("train.lr=0.7",)
    assert len(prov.argv) == len(sys.argv)
    assert to_container(recompose(prov))["train"]["lr"] == 0.7
