"""env.toml discovery, `extends` chains and profile validation."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kit_run
from kit_run import (
    EnvFileError,
    EnvFileNotFoundError,
    ProfileError,
    ProfileNotFoundError,
    list_profiles,
    load_env_profile,
)

BASE = """
[wandb]
project = "nano3"

[cluster]
executor = "slurm"
account = "acct"
partition = "batch"

[cluster-large]
extends = "cluster"
nodes = 4
env_vars = { B = "2" }

[cluster-xl]
extends = "cluster-large"
gpus_per_node = 8
env_vars = { C = "3" }
"""


def test_extends_chain_of_any_depth_merges_env_vars(write_env: Callable[[str], Path]) -> None:
    """A three-level chain inherits keys and merges env_vars tables key by key."""
    path = write_env(BASE.replace('[cluster]\n', '[cluster]\nenv_vars = { A = "1" }\n'))
    profile = load_env_profile("cluster-xl", path)
    assert profile.chain == ("cluster-xl", "cluster-large", "cluster")
    assert profile.get("nodes") == 4 and profile.get("gpus_per_node") == 8
    assert profile.get("account") == "acct"
    assert profile.get("env_vars") == {"A": "1", "B": "2", "C": "3"}
    assert "extends" not in profile.settings


def test_reserved_tables_are_not_profiles(write_env: Callable[[str], Path]) -> None:
    """`wandb` is a reserved table, parsed separately and never listed as a profile."""
    path = write_env(BASE)
    assert list_profiles(path) == ["cluster", "cluster-large", "cluster-xl"]
    assert kit_run.load_env_file(path).wandb == {"project": "nano3"}


def test_discovery_walks_up_to_the_repo_root(write_env: Callable[[str], Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """env.toml in a parent directory is found from a subdirectory."""
    path = write_env(BASE)
    sub = path.parent / "a" / "b"
    sub.mkdir(parents=True)
    (path.parent / ".git").mkdir()
    monkeypatch.chdir(sub)
    assert kit_run.find_env_file() == path
    assert load_env_profile("cluster").name == "cluster"


def test_discovery_stops_at_the_repo_root(tmp_path: Path, write_env: Callable[[str], Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An env.toml above the repository root is not picked up."""
    write_env(BASE)
    repo = tmp_path / "proj" / "repo"
    (repo / ".git").mkdir(parents=True)
    monkeypatch.chdir(repo)
    assert kit_run.find_env_file() is None


def test_env_var_names_the_file(write_env: Callable[[str], Path],
                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$NEMOTRON_ENV_FILE wins over discovery."""
    path = write_env(BASE)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(path))
    monkeypatch.chdir(tmp_path)
    assert load_env_profile("cluster").file == str(path)


def test_missing_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No env.toml anywhere: EnvFileNotFoundError that says how to fix it."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnvFileNotFoundError, match="no env.toml found.*NEMOTRON_ENV_FILE"):
        load_env_profile("cluster")


def test_missing_env_file_named_by_variable(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """$NEMOTRON_ENV_FILE pointing nowhere is an error naming that path."""
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(EnvFileNotFoundError, match="nope.toml does not exist"):
        load_env_profile("cluster")


def test_unknown_profile_lists_known(write_env: Callable[[str], Path]) -> None:
    """An unknown profile lists the known ones and suggests the closest."""
    path = write_env(BASE)
    with pytest.raises(ProfileNotFoundError) as info:
        load_env_profile("clustr", path)
    assert info.value.known == ("cluster", "cluster-large", "cluster-xl")
    assert "known profiles: cluster, cluster-large, cluster-xl" in str(info.value)
    assert "did you mean 'cluster'" in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_toml_names_line(write_env: Callable[[str], Path]) -> None:
    """Broken TOML is an EnvFileError with the line number."""
    path = write_env('[a]\nexecutor = "local"\nnodes = = 2\n')
    with pytest.raises(EnvFileError) as info:
        load_env_profile("a", path)
    assert info.value.line == 3


BAD_PROFILES = [
    pytest.param('[p]\nexecutor = "slurm"\naccount = "a"\npartiton = "b"\n', "partiton",
                 "unknown key", "partition", id="unknown-key"),
    pytest.param('[p]\nexecutor = "slurm"\naccount = "a"\nnodes = "4"\n', "nodes",
                 "expected int, got '4'", None, id="wrong-type"),
    pytest.param('[p]\nexecutor = "slurm"\npartition = "b"\n', "account",
                 "missing required key", None, id="missing-slurm-account"),
    pytest.param('[p]\nexecutor = "slurm"\naccount = "a"\ntunnel = "ssh"\n'
                 'host = "h"\nuser = "u"\n', "remote_job_dir",
                 "missing required key for tunnel", None, id="ssh-missing-remote-dir"),
    pytest.param('[p]\nexecutor = "slurmm"\n', "executor", "is not one of", "slurm",
                 id="bad-executor"),
    pytest.param('[p]\nnodes = 2\n', "executor", "missing required key", None,
                 id="missing-executor"),
    pytest.param('[p]\nexecutor = "local"\naccount = "a"\n', "account",
                 "not a key of executor 'local'", None, id="key-of-other-executor"),
    pytest.param('[p]\nexecutor = "local"\nnodes = 0\n', "nodes", "must be >= 1", None,
                 id="non-positive"),
    pytest.param('[p]\nexecutor = "local"\nschema_version = 9\n', "schema_version",
                 "newer than this kit-run", None, id="future-schema"),
    pytest.param('[p]\nexecutor = "local"\nenv_vars = { WANDB_API_KEY = "x" }\n',
                 "env_vars.WANDB_API_KEY", "secrets do not belong", None, id="secret-in-env"),
    pytest.param('[p]\nexecutor = "slurm"\naccount = "a"\ntunnel = "sssh"\n', "tunnel",
                 "expected one of 'local', 'ssh'", "ssh", id="bad-tunnel"),
]


@pytest.mark.parametrize(("text", "key", "message", "suggestion"), BAD_PROFILES)
def test_bad_profile(write_env: Callable[[str], Path], text: str, key: str, message: str,
                     suggestion: str | None) -> None:
    """Each bad profile is a ProfileError naming profile, key and closest known key."""
    path = write_env(text)
    with pytest.raises(ProfileError) as info:
        load_env_profile("p", path)
    problem = next(p for p in info.value.problems if p.key == key)
    assert message in problem.message
    assert problem.profile == "p"
    assert problem.suggestion == suggestion
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_all_problems_are_collected(write_env: Callable[[str], Path]) -> None:
    """Several problems in one profile are reported together."""
    path = write_env('[p]\nexecutor = "slurm"\nnodez = 1\ntime = 5\n')
    with pytest.raises(ProfileError) as info:
        load_env_profile("p", path)
    assert {p.key for p in info.value.problems} == {"nodez", "time", "account"}


@pytest.mark.parametrize(("text", "shown"), [
    pytest.param('[a]\nextends = "b"\nexecutor = "local"\n[b]\nextends = "a"\n',
                 "a -> b -> a", id="two-cycle"),
    pytest.param('[a]\nextends = "a"\nexecutor = "local"\n', "a -> a", id="self-cycle"),
    pytest.param('[a]\nextends = "b"\n[b]\nextends = "c"\n[c]\nextends = "a"\n',
                 "a -> b -> c -> a", id="three-cycle"),
])
def test_extends_cycle_shows_chain(write_env: Callable[[str], Path], text: str,
                                   shown: str) -> None:
    """An extends cycle is an error that shows the chain."""
    with pytest.raises(ProfileError, match=shown):
        load_env_profile("a", write_env(text))


def test_extends_unknown_profile_suggests(write_env: Callable[[str], Path]) -> None:
    """Extending a missing profile names it and the closest known one."""
    path = write_env(BASE + '\n[x]\nextends = "clustre"\n')
    with pytest.raises(ProfileError) as info:
        load_env_profile("x", path)
    assert info.value.key == "extends" and info.value.suggestion == "cluster"


def test_reserved_table_is_not_a_profile(write_env: Callable[[str], Path]) -> None:
    """Asking for `wandb` as a profile is a ProfileNotFoundError."""
    with pytest.raises(ProfileNotFoundError, match="reserved table"):
        load_env_profile("wandb", write_env(BASE))


_VALUES: dict[str, Any] = {
    "nodes": st.integers(1, 64), "gpus_per_node": st.integers(1, 8),
    "time": st.from_regex(r"[0-9]{2}:[0-9]{2}:[0-9]{2}", fullmatch=True),
    "partition": st.text("abcdefgh-_", min_size=1, max_size=12),
    "exclusive": st.booleans(),
    "mounts": st.lists(st.text("abc/:", min_size=1, max_size=10), max_size=3),
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=40, deadline=None)
@given(st.fixed_dictionaries({}, optional=_VALUES))
def test_profile_round_trips_through_toml(values: dict[str, Any]) -> None:
    """Any valid profile written as TOML loads back with exactly the same settings."""
    import tempfile

    settings_in = {"executor": "slurm", "account": "acct", **values}
    text = "[p]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in settings_in.items())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "env.toml"
        Path(path).write_text(text)
        assert dict(load_env_profile("p", path).settings) == settings_in


def test_profile_reads_like_a_mapping(write_env: Callable[[str], Path]) -> None:
    """`profile[key]`, `key in profile`, iteration over keys and `.get` all work."""
    profile = load_env_profile("cluster-large", write_env(BASE))
    assert profile["nodes"] == 4 and profile["account"] == "acct"
    assert "nodes" in profile and "gpus_per_node" not in profile
    assert sorted(profile) == sorted(profile.settings) == [
        "account", "env_vars", "executor", "nodes", "partition"]
    assert dict(profile.items()) == dict(profile.settings) and len(profile) == 5
    assert profile.get("gpus_per_node", 8) == 8


@pytest.mark.parametrize(("key", "fragment"), [
    pytest.param("nodez", "did you mean 'nodes'", id="typo"),
    pytest.param("gpus_per_node", "does not set 'gpus_per_node'", id="known-but-unset"),
])
def test_profile_item_errors(write_env: Callable[[str], Path], key: str, fragment: str) -> None:
    """A typo (no executor has the key) or an unset key is a ProfileKeyError (a KeyError)."""
    profile = load_env_profile("cluster-large", write_env(BASE))
    with pytest.raises(kit_run.ProfileKeyError, match=fragment) as info:
        profile[key]
    assert isinstance(info.value, KeyError) and "\n" not in str(info.value)


def test_typo_through_get_is_an_error(write_env: Callable[[str], Path]) -> None:
    """`.get` of a key no executor has is a typo, not a silent default."""
    profile = load_env_profile("cluster", write_env(BASE))
    with pytest.raises(kit_run.ProfileKeyError, match="did you mean 'partition'"):
        profile.get("partiton")


def test_problem_points_at_its_line(write_env: Callable[[str], Path]) -> None:
    """Each problem is a kit-config ConfigProblem with env.toml's file and line."""
    from kit_config import ConfigProblem

    path = write_env(BASE + '\n[bad]\nextends = "cluster"\nnodes = "4"\n')
    with pytest.raises(ProfileError) as info:
        load_env_profile("bad", path)
    (problem,) = info.value.problems
    assert isinstance(problem, ConfigProblem)
    assert (problem.key, problem.file) == ("nodes", str(path))
    assert path.read_text().splitlines()[problem.line - 1] == 'nodes = "4"'  # type: ignore[operator]
    assert f"(line {problem.line})" in str(info.value)
