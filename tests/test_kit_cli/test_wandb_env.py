"""W&B the seed's way: env.toml `[wandb]`, a stage config's `wandb:` section, the command line.

End to end with the real `wandb` package in offline mode (no network): a stage run produces
a real offline W&B run (its `.wandb` log read back record by record) with the config, the
metrics and the artifact lineage; then `nemotron sync` replays it to kit-track's in-library
`FakeWandbClient` (the online path). Cluster jobs get project/entity/mode as plain settings;
the API key only ever as a secret.
"""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import kit_cli._cmd_sync as cmd_sync
from kit_cli import run_stage, run_stage_job
from kit_cli._app import build_app
from kit_cli.recipe import Recipe, Stage

KEY = "wandb-secret-0123456789abcdef0123456789abcdef"
ENV_TOML = '[wandb]\nproject = "kit-e2e"\nentity = "team"\nmode = "online"\ntags = ["seed"]\n'


@pytest.fixture(autouse=True)
def wandb_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No W&B settings from the machine; W&B writes under tmp; env.toml has a [wandb] table."""
    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_MODE", "WANDB_TAGS",
                 "WANDB_RUN_GROUP", "WANDB_BASE_URL", "NEMOTRON_TRACKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    env_toml = tmp_path / "env.toml"
    env_toml.write_text(ENV_TOML)
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(env_toml))
    return env_toml


@pytest.fixture()
def wandb_recipe(tmp_path: Path) -> Recipe:
    """A one-stage recipe whose config turns W&B off (`wandb.mode: disabled`)."""
    folder = tmp_path / "wandb-configs"
    folder.mkdir()
    (folder / "default.yaml").write_text(
        "data: ${art:demo-data,path}\nlr: 0.1\nwandb:\n  mode: disabled\n")
    return Recipe("wb", "W&B demo.", (Stage("train", "test_kit_cli.wandb_stage", "T", folder),))


def _records(path: Path) -> list[Any]:
    """The protobuf records of a `.wandb` log (W&B's LevelDB-style log: 7-byte file header,
    32 KiB blocks, each chunk `<crc32, length, type>`; FULL=1, FIRST=2, MIDDLE=3, LAST=4)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, out, pending = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 2):
            pending = chunk
        elif kind in (3, 4):
            pending += chunk
        else:  # zero padding after the last record
            break
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(pending)
            out.append(record)
    return out


def _offline_log(wandb_dir: Path, run_id: str) -> list[Any]:
    (run_dir,) = list(wandb_dir.rglob(f"offline-run-*-{run_id}"))
    (log,) = list(run_dir.glob("*.wandb"))
    deadline = time.monotonic() + 20  # wandb-core may still be flushing after exit
    while time.monotonic() < deadline:
        records = _records(log)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        time.sleep(0.2)
    return _records(log)


def test_offline_stage_run_records_config_metrics_and_lineage(
        wandb_recipe: Recipe, publish_data: Any, stage_env: dict[str, str],
        tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """env.toml gives project/entity/tags, the recipe config says `disabled`, the command line
    says `offline`: the command line wins, and the offline W&B run holds everything."""
    data = publish_data()
    quiet = run_stage_job(wandb_recipe, "train", [])
    assert quiet.exit_code == 0
    assert not list((tmp_path / "wandb").rglob(f"*{quiet.run_id}*"))  # config beat env.toml

    launch = run_stage_job(wandb_recipe, "train", ["wandb.mode=offline"])
    assert launch.exit_code == 0 and launch.run_id
    records = _offline_log(tmp_path / "wandb", launch.run_id)
    by_kind: dict[str, list[Any]] = {}
    for record in records:
        by_kind.setdefault(record.WhichOneof("record_type"), []).append(record)

    (run,) = (r.run for r in by_kind["run"])
    assert (run.project, run.entity, run.job_type) == ("kit-e2e", "team", "wandb-demo")
    assert list(run.tags) == ["seed"]
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["lr"] == 0.1 and config["wandb"] == {"mode": "offline"}
    assert config["_nemotron"]["run_id"] == launch.run_id

    losses = [json.loads(item.value_json) for r in by_kind["history"] for item in r.history.item
              if list(item.nested_key) == ["loss"]]
    assert losses == [3, 2, 1]

    (artifact,) = (r.artifact for r in by_kind["artifact"] if r.artifact.type == "ModelArtifact")
    # v1 came from the W&B-less run above.
    assert artifact.name == "wandb-demo-model" and "kit-v2" in list(artifact.aliases)
    assert json.loads(artifact.metadata)["kit_uri"] == "art://wandb-demo-model:v2"
    # W&B cannot record an input offline: it waits in the run record for `nemotron sync`.
    run_dir = isolated_home / "runs" / launch.run_id
    pending = (run_dir / "wandb_pending.jsonl").read_text()
    assert data in pending

    # The online path: `nemotron sync` replays the run to the project it was meant for.
    from kit_track import FakeWandbClient

    fake = FakeWandbClient()
    monkeypatch.setattr(cmd_sync, "wandb_client", lambda: fake)
    result = CliRunner().invoke(build_app([]), ["sync", launch.run_id])
    assert result.exit_code == 0, result.output
    (online,) = fake.runs
    assert (online.args.project, online.args.entity, online.args.mode) == (
        "kit-e2e", "team", "online")
    assert online.ops().count("log") == 3
    used = [kw["spec"] for op, kw in online.calls if op == "use_artifact"]
    logged = [kw["spec"] for op, kw in online.calls if op == "log_artifact"]
    assert [s.metadata["kit_uri"] for s in used] == [data]
    assert [s.metadata["kit_uri"] for s in logged] == ["art://wandb-demo-model:v2"]


def test_cluster_jobs_get_wandb_settings_and_never_the_key(
        wandb_recipe: Recipe, publish_data: Any, wandb_sandbox: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A Slurm job exports WANDB_PROJECT/ENTITY/MODE/TAGS as plain settings (a profile's own
    env_vars win); the key is only a secret, its value nowhere in the job's rendering."""
    publish_data()
    wandb_sandbox.write_text(
        ENV_TOML.replace('mode = "online"', 'mode = "offline"')
        + '[cluster]\nexecutor = "slurm"\naccount = "kit"\npartition = "debug"\n'
        + '[cluster.env_vars]\nWANDB_ENTITY = "profile-team"\n')
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    assert run_stage(wandb_recipe, "train", ["--batch", "cluster", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "export WANDB_PROJECT=kit-e2e" in text
    assert "export WANDB_MODE=offline" in text and "export WANDB_TAGS=seed" in text
    assert "export WANDB_ENTITY=profile-team" in text and "WANDB_ENTITY=team" not in text
    assert KEY not in text and "WANDB_API_KEY=" in text


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        pytest.param('projet = "p"', ["wandb.projet", "did you mean 'project'"], id="typo"),
        pytest.param(f'api_key = "{KEY}"', ["wandb.api_key", "wandb login"], id="api-key"),
        pytest.param('mode = "ofline"', ["wandb.mode", "online, offline, disabled"],
                     id="bad-mode"),
    ],
)
def test_bad_env_toml_wandb_table_is_a_one_line_input_error(
        table: str, fragments: list[str], wandb_recipe: Recipe, publish_data: Any,
        wandb_sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad `[wandb]` table stops the launch with exit 2, naming env.toml and the key."""
    publish_data()
    wandb_sandbox.write_text(f"[wandb]\n{table}\n")
    assert run_stage(wandb_recipe, "train", []) == 2
    (err,) = (line for line in capsys.readouterr().err.splitlines() if "error" in line)
    assert err.startswith("error: ") and str(wandb_sandbox) in err and KEY not in err
    for fragment in fragments:
        assert fragment in err
