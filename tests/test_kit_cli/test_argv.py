"""The stage argv parser: options and overrides anywhere, no `--` tail, bad input."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit_cli import StageArgs, parse_stage_argv
from kit_cli.errors import UsageError


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], StageArgs(), id="empty"),
        pytest.param(["-c", "tiny"], StageArgs(config="tiny"), id="short-config"),
        pytest.param(["--config=tiny"], StageArgs(config="tiny"), id="long-config-eq"),
        pytest.param(["-ctiny"], StageArgs(config="tiny"), id="short-config-glued"),
        pytest.param(
            ["a.b=1", "-c", "tiny", "x=2", "--run", "cl", "-d"],
            StageArgs(config="tiny", run="cl", dry_run=True, overrides=("a.b=1", "x=2")),
            id="overrides-anywhere",
        ),
        pytest.param(["-b", "cl"], StageArgs(batch="cl"), id="batch"),
        pytest.param(
            ["+new.key=3", "~old", "++f=1"],
            StageArgs(overrides=("+new.key=3", "~old", "++f=1")),
            id="hydra-prefixes",
        ),
    ],
)
def test_parse_valid(argv: list[str], expected: StageArgs) -> None:
    """Each valid command line parses to the expected options, overrides and tail."""
    assert parse_stage_argv(argv) == expected


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["-c"], "needs a value", id="config-without-value"),
        pytest.param(["-r", "-d"], "needs a value", id="run-value-is-option"),
        pytest.param(["--bogus"], "unknown option", id="unknown-long-option"),
        pytest.param(["-x"], "unknown option", id="unknown-short-option"),
        pytest.param(["justaword"], "not an override", id="bare-word"),
        pytest.param(["1abc=2"], "not an override", id="bad-key"),
        pytest.param(["-r", "a", "-b", "b"], "exclude each other", id="run-and-batch"),
        pytest.param(["-c", "a", "-c", "b"], "given twice", id="config-twice"),
        # Everything the job gets is in the checked, recorded config: no script tail.
        pytest.param(["k=1", "--", "x=y"], "no script arguments after '--'", id="dash-dash-tail"),
    ],
)
def test_parse_errors(argv: list[str], fragment: str) -> None:
    """Malformed command lines raise a one-line UsageError (a ValueError, exit code 2)."""
    with pytest.raises(UsageError) as info:
        parse_stage_argv(argv)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,6}(\.[a-z_][a-z0-9_]{0,6}){0,2}", fullmatch=True)
_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=8)


@given(
    config=st.none() | st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    profile=st.none() | st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    batch=st.booleans(),
    dry=st.booleans(),
    overrides=st.lists(st.tuples(_keys, _values).map("=".join), max_size=5),
)
def test_round_trip(config, profile, batch, dry, overrides) -> None:
    """Rendering any StageArgs back to argv and parsing it again gives the same StageArgs."""
    expected = StageArgs(
        config=config,
        run=None if batch else profile,
        batch=profile if batch else None,
        dry_run=dry,
        overrides=tuple(overrides),
    )
    argv = list(overrides)
    if config:
        argv[:0] = ["-c", config]
    if profile:
        argv += ["--batch" if batch else "--run", profile]
    if dry:
        argv.insert(0, "-d")
    assert parse_stage_argv(argv) == expected
