"""`nemotron rerun` of nano3 data prep rebuilds byte-identical files, and says so.

Data prep is deterministic: the rerun's published shards must have the same file manifest
as the original's. The launcher also records the code identity of both runs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from unittest import mock

import pytest

ABSOLUTE_PYTHONPATH = os.pathsep.join(str(Path(p).resolve()) for p in sys.path if p)


def test_rerun_of_data_prep_rebuilds_identical_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Local data prep, then `rerun RUN_ID`: the rebuilt artifact's files are equal."""
    from kit_cli import run_stage
    from kit_cli._launches import list_launches
    from kit_cli._rerun import rerun
    from nano3.recipe import RECIPE

    for name in [k for k in os.environ if k.startswith("NEMOTRON_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEMOTRON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEMOTRON_ENV_FILE", str(tmp_path / "no-env.toml"))
    monkeypatch.setenv("PYTHONPATH", ABSOLUTE_PYTHONPATH)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    assert run_stage(RECIPE, "data prep pretrain", ["-c", "tiny"]) == 0
    (original,) = list_launches()
    assert original.code_digest and original.code_digest.startswith("sha256:")
    capsys.readouterr()
    with mock.patch("kit_cli._rerun.find_recipe", return_value=RECIPE):
        assert rerun(original.run_id, allow_code_change=True) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("outputs: "))
    assert line.startswith("outputs: art://nano3-pretrain-data-tiny:v2 has the same files as "
                           "art://nano3-pretrain-data-tiny:v1 (") and line.endswith(": equal")
