"""Credentials for jobs (env or netrc) and the secret scrubbing rules."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kit_track
from kit_config import SECRET_MASK as MASK
from kit_config import is_secret_key
from kit_config import scrub_secrets as scrub

KEY = "0123456789abcdef0123456789abcdef01234567"


def _netrc(tmp_path: Path, host: str = "api.wandb.ai") -> Path:
    path = tmp_path / "netrc"
    path.write_text(f"machine {host}\n  login user\n  password {KEY}\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("env", "use_netrc", "expected"),
    [
        pytest.param({"WANDB_API_KEY": KEY}, False, {"WANDB_API_KEY": KEY}, id="env-key"),
        pytest.param({}, True, {"WANDB_API_KEY": KEY}, id="netrc-key"),
        pytest.param({"WANDB_BASE_URL": "https://wandb.corp.example"}, True, {},
                     id="netrc-other-host"),
        pytest.param({}, False, {}, id="nothing"),
        pytest.param({"HF_TOKEN": "hf_abc", "MLFLOW_TRACKING_TOKEN": "t"}, False,
                     {"HF_TOKEN": "hf_abc", "MLFLOW_TRACKING_TOKEN": "t"}, id="forwarded-tokens"),
        pytest.param({"WANDB_API_KEY": "  "}, False, {}, id="blank-key"),
    ],
)
def test_job_credentials(tmp_path: Path, env: dict[str, str], use_netrc: bool,
                         expected: dict[str, str]) -> None:
    """job_credentials finds the W&B key in env or netrc (for the right host) plus tokens."""
    netrc_path = _netrc(tmp_path) if use_netrc else tmp_path / "absent"
    assert kit_track.job_credentials(env, netrc_path=netrc_path) == expected


def test_netrc_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit path the NETRC variable (else ~/.netrc) is read."""
    monkeypatch.setenv("NETRC", str(_netrc(tmp_path)))
    assert kit_track.wandb_api_key() == KEY


def test_broken_netrc_means_no_key(tmp_path: Path) -> None:
    """A netrc that does not parse yields no key instead of an exception."""
    bad = tmp_path / "netrc"
    bad.write_text("machine\n")
    assert kit_track.wandb_api_key({}, netrc_path=bad) is None


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        pytest.param("WANDB_API_KEY", True, id="wandb-api-key"),
        pytest.param("hf_token", True, id="hf-token"),
        pytest.param("db.password", True, id="dotted-password"),
        pytest.param("client-secret", True, id="dashed-secret"),
        pytest.param("tokenizer", False, id="tokenizer"),
        pytest.param("max_tokens", False, id="max-tokens"),
        pytest.param("monkey", False, id="monkey"),
    ],
)
def test_secret_key_rule(key: str, secret: bool) -> None:
    """Secret keys are recognised by a whole name part, not by substring."""
    assert is_secret_key(key) is secret


@given(st.recursive(
    st.none() | st.integers() | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "api_key", "token", "name", "x.password"]), c, max_size=4),
    max_leaves=12,
))
def test_scrub_removes_every_secret(obj: object) -> None:
    """After scrub, no secret env value appears and every secret key is masked or None."""
    values = ("SECRET-VALUE-123",)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                assert v in (MASK, None) if is_secret_key(k) else True
                walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            assert "SECRET-VALUE-123" not in node

    walk(scrub(obj, values))
    assert scrub(f"x{values[0]}y", values) == f"x{MASK}y"


def test_many_ranks_in_processes(tmp_path: Path) -> None:
    """Three rank processes of one job: one record (rank 0), one metrics file per rank."""
    code = (
        "import kit_track\n"
        "with kit_track.start_run(stage='pretrain', trackers=[kit_track.FileTracker()]) as r:\n"
        "    for s in range(20): r.log_metrics({'loss': float(s)}, step=s)\n"
    )
    procs = []
    for rank in range(3):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="3", NEMOTRON_RUN_ID="job-7")
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env))
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    record = kit_track.load_run("job-7")
    assert record.status == "succeeded" and record.world_size == 3
    assert [len(record.metrics(rank=r)) for r in range(3)] == [20, 20, 20]
    names = sorted(p.name for p in Path(record.run_dir).iterdir())
    assert names == ["metrics.jsonl", "metrics.rank1.jsonl", "metrics.rank2.jsonl", "run.json"]
