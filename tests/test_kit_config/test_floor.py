"""The shared floor: home layout, atomic writes, run id, digest, secrets, rank, did-you-mean."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kit_config
from kit_config import (
    SECRET_MASK,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    closest,
    config_digest,
    did_you_mean,
    home_dir,
    local_rank,
    mask_argv,
    nemotron_home,
    new_run_id,
    process_rank,
    scrub_secrets,
    scrub_text,
    secret_values,
    world_size,
)

# -- home -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(None, "~/.nemotron", id="default"),
        pytest.param("", "~/.nemotron", id="empty-means-default"),
        pytest.param("~/elsewhere", "~/elsewhere", id="tilde-expanded"),
        pytest.param("/abs/home", "/abs/home", id="absolute"),
    ],
)
def test_nemotron_home(monkeypatch: pytest.MonkeyPatch, env: str | None, expected: str) -> None:
    """`$NEMOTRON_HOME` is read in one place and `~` is always expanded."""
    if env is None:
        monkeypatch.delenv("NEMOTRON_HOME", raising=False)
    else:
        monkeypatch.setenv("NEMOTRON_HOME", env)
    assert nemotron_home() == Path(expected).expanduser()
    assert "~" not in str(nemotron_home())


@pytest.mark.parametrize("area", ["artifacts", "data", "jobs", "launches", "models", "runs"])
def test_home_dir_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, area: str) -> None:
    """Each area of the layout is a folder directly under the home."""
    monkeypatch.setenv("NEMOTRON_HOME", str(tmp_path))
    assert home_dir(area) == tmp_path / area  # type: ignore[arg-type]


def test_home_dir_unknown_area() -> None:
    """A misspelt area is refused with a suggestion."""
    with pytest.raises(ValueError, match=r"unknown .*'run'.*did you mean 'runs'"):
        home_dir("run")  # type: ignore[arg-type]


# -- atomic writes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "cwd", "forced", "expected"), [
    pytest.param(["env.toml"], ".", None, "env.toml", id="in-cwd"),
    pytest.param(["repo/.git/", "repo/env.toml"], "repo/a/b", None, "repo/env.toml",
                 id="parent-within-repo"),
    pytest.param(["env.toml", "repo/.git/"], "repo/a", None, None, id="stops-at-repo-root"),
    pytest.param(["env.toml"], ".", "other.toml", "other.toml", id="env-var-wins-even-missing"),
    pytest.param([], ".", "~/x.toml", "~/x.toml", id="env-var-tilde-expanded"),
])
def test_find_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, layout: list[str],
                       cwd: str, forced: str | None, expected: str | None) -> None:
    """The one env.toml rule every package uses: $NEMOTRON_ENV_FILE as given, else the
    nearest env.toml up to the repository root (never one above the checkout)."""
    for rel in layout:
        target = tmp_path / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
    (tmp_path / cwd).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(tmp_path / cwd)
    monkeypatch.setenv("HOME", str(tmp_path))
    if forced is None:
        monkeypatch.delenv("NEMOTRON_ENV_FILE", raising=False)
    else:
        monkeypatch.setenv("NEMOTRON_ENV_FILE", forced)
    found = kit_config.find_env_file()
    if expected is None:
        assert found is None
    elif expected.startswith("~"):
        assert found == tmp_path / expected[2:]
    elif forced is not None:
        assert found == Path(expected)
    else:
        assert found == (tmp_path / expected).resolve()


def test_atomic_writes_round_trip(tmp_path: Path) -> None:
    """Bytes, text and JSON land whole, parents are created, and no temp file is left."""
    atomic_write_bytes(tmp_path / "a" / "b.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "a" / "c.txt", "héllo")
    atomic_write_json(tmp_path / "a" / "d.json", {"b": 1, "a": Path("/x")}, sort_keys=True)
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a" / "c.txt").read_text(encoding="utf-8") == "héllo"
    text = (tmp_path / "a" / "d.json").read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": "/x", "b": 1}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.bin", "c.txt", "d.json"]


def test_atomic_writer_streams_and_cleans_up(tmp_path: Path) -> None:
    """A streamed write appears only on a clean exit; an exception leaves nothing behind."""
    target = tmp_path / "out.bin"
    with atomic_writer(target) as fh:
        fh.write(b"part1,")
        assert not target.exists()  # readers never see half a file
        fh.write(b"part2")
    assert target.read_bytes() == b"part1,part2"
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"part1,part2"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails before the rename leaves the previous content and no temp file."""
    target = tmp_path / "f.json"
    atomic_write_json(target, {"v": 1})

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


# -- run id, digest ----------------------------------------------------------------------------


def test_new_run_id_format() -> None:
    """Run ids are `YYYYmmdd-HHMMSS-<6 hex>`, from the given time, and unique."""
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    run_id = new_run_id(when)
    assert re.fullmatch(r"20260102-030405-[0-9a-f]{6}", run_id)
    assert len({new_run_id() for _ in range(50)}) == 50


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_config_digest_ignores_key_order(cfg: dict[str, object]) -> None:
    """One format (`sha256:` + 64 hex), independent of key order."""
    digest = config_digest(cfg)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert config_digest(dict(reversed(list(cfg.items())))) == digest


def test_config_digest_changes_with_content() -> None:
    """Different configs give different digests."""
    assert config_digest({"lr": 1}) != config_digest({"lr": 2})


# -- secrets ---------------------------------------------------------------------------------

SECRET = "hunter2-hunter2-hunter2"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--api-key", "V"], ["--api-key", "***"], id="flag-space-value"),
        pytest.param(["--api-key=V"], ["--api-key=***"], id="flag-equals-value"),
        pytest.param(["wandb.api_key=V"], ["wandb.api_key=***"], id="override"),
        pytest.param(["++hf_token=V"], ["++hf_token=***"], id="append-override"),
        pytest.param(["--tokenizer", "gpt2"], ["--tokenizer", "gpt2"], id="not-secret-flag"),
        pytest.param(["max_tokens=5", "lr=1"], ["max_tokens=5", "lr=1"], id="not-secret-keys"),
        pytest.param(["-c", "tiny"], ["-c", "tiny"], id="short-option"),
    ],
)
def test_mask_argv(argv: list[str], expected: list[str]) -> None:
    """Every spelling of a secret on a command line is masked, nothing else is."""
    assert mask_argv(argv) == expected


def test_secret_values_min_length() -> None:
    """Only secret-keyed variables count, longest first, and short values are skipped."""
    env = {"WANDB_API_KEY": SECRET, "HF_TOKEN": "short", "HOME": "/home/someone-long"}
    assert secret_values(env) == (SECRET,)


@given(
    prefix=st.text(max_size=8),
    suffix=st.text(max_size=8),
    key=st.sampled_from(["api_key", "token", "name", "x.password", "lr"]),
)
def test_scrub_never_leaks(prefix: str, suffix: str, key: str) -> None:
    """No form of a known secret survives scrubbing: inside text, lists, tuples or keys."""
    values = (SECRET,)
    obj = {key: f"{prefix}{SECRET}{suffix}", "nested": [(SECRET, {key: SECRET})], "n": 3}
    out = json.dumps(scrub_secrets(obj, values))
    assert SECRET not in out
    assert SECRET not in scrub_text(prefix + SECRET + suffix + SECRET, values)
    masked = " ".join(mask_argv([f"{key}={SECRET}", f"--{key}", SECRET]))
    if kit_config.is_secret_key(key):
        assert SECRET not in masked


def test_scrub_secrets_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without explicit values, the secret environment variables' values are scrubbed."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", SECRET)
    assert scrub_secrets({"msg": f"auth {SECRET} failed"}) == {"msg": f"auth {SECRET_MASK} failed"}
    assert scrub_secrets({"k": (1, 2)}) == {"k": [1, 2]}


# -- rank / world ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "rank", "world", "local"),
    [
        pytest.param({}, 0, 1, 0, id="lone-process"),
        pytest.param({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, 3, 8, 1, id="torchrun"),
        pytest.param(
            {"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "2"}, 5, 6, 2, id="slurm"
        ),
        pytest.param(
            {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"},
            1, 2, 0, id="torchrun-wins-over-slurm",
        ),
        pytest.param({"RANK": "x", "SLURM_PROCID": "2"}, 2, 1, 0, id="garbage-skipped"),
    ],
)
def test_rank_world(env: dict[str, str], rank: int, world: int, local: int) -> None:
    """One precedence order: torchrun's variables, then Slurm's, then a lone process."""
    assert (process_rank(env), world_size(env), local_rank(env)) == (rank, world, local)


def test_rank_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit mapping, the process environment is read."""
    for name in ("RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "4")
    assert process_rank() == 4
    assert os.environ["SLURM_PROCID"] == "4"


# -- did you mean ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        pytest.param("stepz", ["steps", "lr"], "steps", id="typo"),
        pytest.param("LR", ["lr", "steps"], "lr", id="case"),
        pytest.param("loss", ["final_loss", "steps"], "final_loss", id="contained"),
        pytest.param("zzz", ["steps", "lr"], None, id="nothing-close"),
        pytest.param("a", ["abc", "bca"], None, id="too-short-to-contain"),
    ],
)
def test_closest(name: str, candidates: list[str], expected: str | None) -> None:
    """One rule for suggestions across the kit."""
    assert closest(name, candidates) == expected
    assert did_you_mean(name, candidates) == (f" (did you mean {expected!r}?)" if expected else "")
