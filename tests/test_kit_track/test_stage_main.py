"""`kit_track.stage_main`: the one job-side entry (compose once, run, structure, publish)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

import kit_artifacts
import kit_config
import kit_track
from kit_config.errors import ConfigProblem, KitError


@attrs.frozen
class Cfg:
    data: str
    artifact_name: str = "out"
    steps: int = 3

    def __kit_validate__(self) -> list[ConfigProblem]:
        return [ConfigProblem("steps", "must be > 0")] if self.steps <= 0 else []


class Boom(KitError, RuntimeError):
    exit_code = 3


@pytest.fixture
def data_uri(tmp_path: Path) -> str:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "x.bin").write_bytes(b"x")
    return str(kit_artifacts.Artifact(path=str(folder)).save("data").uri)


def _config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return str(path)


def _work(tmp_path: Path, seen: list[Any]) -> Any:
    def work(cfg: Cfg, run: kit_track.Run) -> kit_artifacts.Artifact:
        seen.append((cfg, run.run_id))
        out = tmp_path / "model"
        out.mkdir(exist_ok=True)
        (out / "w").write_bytes(b"w")
        return kit_artifacts.Artifact(path=str(out))
    return work


def test_publishes_with_the_config_inputs_as_lineage(tmp_path: Path, data_uri: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[Any] = []
    path = _config(tmp_path, "data: ${art:data,path}\n")
    assert kit_track.stage_main(Cfg, _work(tmp_path, seen), stage="t.stage",
                                argv=["--config", path]) == 0
    (cfg, run_id), = seen
    assert cfg == Cfg(data=str(tmp_path / "data"))  # the class defaults fill the rest
    assert "[t.stage] published art://out:v1" in capsys.readouterr().out
    record = kit_track.load_run(run_id)
    assert (record.stage, record.status) == ("t.stage", "succeeded")
    assert [u.uri for u in record.inputs] == [data_uri]
    assert [u.uri for u in record.outputs] == ["art://out:v1"]


def test_other_ranks_do_not_publish(tmp_path: Path, data_uri: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    path = _config(tmp_path, "data: ${art:data,path}\n")
    assert kit_track.stage_main(Cfg, _work(tmp_path, []), stage="s", argv=["-c", path]) == 0
    assert "out" not in kit_artifacts.get_registry().names()


def test_custom_artifact_name(tmp_path: Path, data_uri: str) -> None:
    path = _config(tmp_path, "data: d\n")
    assert kit_track.stage_main(Cfg, _work(tmp_path, []), stage="s", argv=[f"--config={path}"],
                                artifact_name=lambda c: f"{c.artifact_name}-x") == 0
    assert kit_artifacts.get_registry().versions("out-x") == [1]


def test_composes_once(tmp_path: Path, data_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = kit_config.compose

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(kit_config, "compose", counting)
    path = _config(tmp_path, "data: d\n")
    assert kit_track.stage_main(Cfg, _work(tmp_path, []), stage="s", argv=["-c", path]) == 0
    assert len(calls) == 1


@pytest.mark.parametrize(("body", "argv_tail", "message", "code"), [
    pytest.param("data: d\nsteps: abc\n", [], "expected int, got 'abc' @ steps", 2,
                 id="wrong-type"),
    pytest.param("data: d\nsteps: 0\n", [], "must be > 0 @ steps", 2, id="semantic"),
    pytest.param("steps: 1\n", [], "missing required value (???) @ data", 2,
                 id="missing-required"),
    pytest.param("data: d\n", ["steps=4"], "unexpected argument 'steps=4'", 2,
                 id="override-on-the-job"),
])
def test_bad_input_exits_with_one_line_and_publishes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, argv_tail: list[str],
        message: str, code: int) -> None:
    seen: list[Any] = []
    path = _config(tmp_path, body)
    assert kit_track.stage_main(Cfg, _work(tmp_path, seen), stage="s",
                                argv=["--config", path, *argv_tail]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert seen == []
    assert kit_artifacts.get_registry().names() == []


def test_a_stage_error_is_its_exit_code_in_the_run_record(tmp_path: Path) -> None:
    def work(cfg: Cfg, run: kit_track.Run) -> None:
        raise Boom("it broke", hint="fix it")

    path = _config(tmp_path, "data: d\n")
    assert kit_track.stage_main(Cfg, work, stage="s", argv=["-c", path]) == 3
    (record,) = kit_track.list_runs()
    assert (record.status, record.exit_code) == ("failed", 3)
