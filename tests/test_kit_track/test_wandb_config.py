"""`WandbConfig` (kit-config's, re-exported here: a stage config's `wandb:`, env.toml's
`[wandb]`), tracker selection and the earlier kit's helper signatures
(`init_wandb_if_configured(cfg.wandb, "pretrain")`, `add_wandb_tags([...])`), against the
in-library fake W&B client."""
from __future__ import annotations

from typing import Any

import pytest

import kit_track
from kit_config import ConfigValidationError
from kit_track import (
    FakeWandbClient,
    FileTracker,
    WandbConfig,
    WandbTracker,
    start_run,
    trackers_from_settings,
)
from kit_track import _wandb as wandb_module

KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        pytest.param({"projet": "p"}, ["wandb.projet", "did you mean 'project'"], id="typo"),
        pytest.param({"api_key": KEY}, ["wandb.api_key", "never a setting", "wandb login"],
                     id="api-key-refused-value-not-shown"),
        pytest.param({"mode": "ofline"}, ["wandb.mode", "online, offline, disabled"],
                     id="bad-mode"),
        pytest.param({"projet": "p", "mode": "x"}, ["2 config problems", "projet", "mode"],
                     id="every-problem-at-once"),
    ],
)
def test_bad_wandb_tables_are_one_line_errors(table: dict[str, Any],
                                              fragments: list[str]) -> None:
    """Unknown keys, an API key and a bad mode are refused, naming the key and the fix."""
    with pytest.raises(ConfigValidationError) as caught:
        WandbConfig.from_mapping(table, file="/x/env.toml")
    text = str(caught.value)
    assert "\n" not in text and KEY not in text and "/x/env.toml" in text
    for fragment in fragments:
        assert fragment in text


def test_wandb_config_env_round_trip() -> None:
    """Settings become plain WANDB_* variables and read back the same (the key never)."""
    cfg = WandbConfig.from_mapping(
        {"project": "p", "entity": "e", "mode": "offline", "tags": ["a", "b"], "group": "g"})
    env = cfg.env()
    assert env == {"WANDB_PROJECT": "p", "WANDB_ENTITY": "e", "WANDB_MODE": "offline",
                   "WANDB_TAGS": "a,b", "WANDB_RUN_GROUP": "g"}
    assert WandbConfig.from_env(env) == cfg


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        pytest.param({}, {}, None, id="nothing-configured"),
        pytest.param({}, {"WANDB_PROJECT": "envp"}, ("envp", None, None), id="env-only"),
        pytest.param({"wandb": {"project": "cfgp", "mode": "offline"}},
                     {"WANDB_PROJECT": "envp", "WANDB_ENTITY": "enve", "WANDB_MODE": "online"},
                     ("cfgp", "enve", "offline"), id="config-wins-over-env"),
        pytest.param({"wandb": {"mode": "disabled"}}, {"WANDB_PROJECT": "envp"}, None,
                     id="config-disables"),
        pytest.param({"wandb": {"project": "p"}}, {"WANDB_MODE": "disabled"}, None,
                     id="env-disables"),
    ],
)
def test_selection_reads_the_wandb_section_over_the_environment(
        config: dict[str, Any], env: dict[str, str],
        expected: tuple[str, str | None, str | None] | None) -> None:
    """The W&B tracker is chosen from the config's `wandb:` section, then WANDB_*."""
    trackers = trackers_from_settings(config, env)
    chosen = [t for t in trackers if isinstance(t, WandbTracker)]
    assert isinstance(trackers[0], FileTracker)
    if expected is None:
        assert chosen == []
    else:
        (tracker,) = chosen
        assert (tracker.project, tracker.entity, tracker.mode) == expected


def test_stage_config_wandb_section_reaches_wandb_online(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Online path: a run whose config has a `wandb:` section opens W&B with its settings."""
    client = FakeWandbClient()
    monkeypatch.setattr(wandb_module, "RealWandbClient", lambda: client)
    monkeypatch.setattr(wandb_module, "probe_wandb_server", lambda *a, **k: None)
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    monkeypatch.setenv("WANDB_ENTITY", "from-env-toml")
    monkeypatch.setenv("WANDB_TAGS", "seed")
    config = {"lr": 0.1, "wandb": WandbConfig(project="nano3", tags=("pretrain",))}
    with start_run(stage="pretrain", config=config, tags=("t",)) as run:
        run.log_metrics({"loss": 2.5}, step=1)
    (wb,) = client.runs
    assert (wb.args.project, wb.args.entity, wb.args.mode) == ("nano3", "from-env-toml", "online")
    assert wb.args.tags == ("t", "seed", "pretrain")
    assert wb.args.config["wandb"]["project"] == "nano3"
    assert wb.ops() == ["log", "finish"]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda cfg, c: kit_track.init_wandb_if_configured(cfg["wandb"], "pretrain",
                                                                       client=c),
                     id="section-positional-job-type"),
        pytest.param(lambda cfg, c: kit_track.init_wandb_if_configured(
            cfg["wandb"], job_type="pretrain", client=c), id="section-keyword-job-type"),
        pytest.param(lambda cfg, c: kit_track.init_wandb_if_configured(cfg, "pretrain", client=c),
                     id="whole-config"),
        pytest.param(lambda cfg, c: kit_track.init_wandb_if_configured(
            WandbConfig(project="p", entity="e"), "pretrain", client=c), id="wandb-config"),
    ],
)
def test_init_wandb_takes_the_config_or_its_section(call: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's `init_wandb_if_configured(cfg.wandb, "pretrain")` opens W&B (no TypeError,
    no silent no-op), as do the whole config and a `WandbConfig`."""
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    client = FakeWandbClient()
    tracker = call({"lr": 1, "wandb": {"project": "p", "entity": "e"}}, client)
    assert tracker is not None
    kit_track.add_wandb_tags(["data-prep", "pretrain"])
    kit_track.add_wandb_tags("a", "b")
    kit_track.finish_wandb(0)
    (wb,) = client.runs
    assert (wb.args.project, wb.args.entity, wb.args.job_type) == ("p", "e", "pretrain")
    assert [kw["tags"] for op, kw in wb.calls if op == "add_tags"] == [
        ("data-prep", "pretrain"), ("a", "b")]


def test_add_wandb_tags_list_inside_a_run_reaches_the_record() -> None:
    """Inside a run, a list of tags is recorded tag by tag (not a TypeError, not lost)."""
    with start_run(stage="s", trackers=[FileTracker()]) as run:
        kit_track.add_wandb_tags(["data-prep", "pretrain"], "x")
    assert kit_track.load_run(run.run_id).tags == ("data-prep", "pretrain", "x")
