"""Resolvers: register_resolver, built-ins, and lazy entry-point plugins."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from kit_config import ResolverError, register_resolver, structure, to_container


def test_register_and_use() -> None:
    """A registered resolver resolves in to_container and structure."""
    register_resolver("kit_test_double", lambda x: int(x) * 2)
    cfg = OmegaConf.create({"a": "${kit_test_double:21}"})
    assert to_container(cfg) == {"a": 42}


def test_same_function_twice_is_a_no_op() -> None:
    """Registering the same callable again (a module imported twice) is fine."""

    def fn() -> str:
        return "x"

    register_resolver("kit_test_same", fn)
    register_resolver("kit_test_same", fn)
    assert to_container(OmegaConf.create({"a": "${kit_test_same:}"})) == {"a": "x"}
    with pytest.raises(ResolverError, match="already registered"):
        register_resolver("kit_test_same", lambda: "y")


@pytest.mark.parametrize(
    ("name", "replace", "fragment"),
    [
        pytest.param("kit_test_taken", False, "already registered", id="taken-name"),
        pytest.param("bad name", False, "invalid resolver name", id="space-in-name"),
        pytest.param("", False, "invalid resolver name", id="empty-name"),
    ],
)
def test_registration_errors(name: str, replace: bool, fragment: str) -> None:
    """A taken name (different function) or a malformed name is a ResolverError."""
    register_resolver("kit_test_taken", lambda: 1, replace=True)
    with pytest.raises(ResolverError, match=fragment):
        register_resolver(name, lambda: 2, replace=replace)


def test_replace_true_replaces() -> None:
    """replace=True swaps the resolver."""
    register_resolver("kit_test_swap", lambda: 1)
    register_resolver("kit_test_swap", lambda: 2, replace=True)
    assert to_container(OmegaConf.create({"a": "${kit_test_swap:}"})) == {"a": 2}


def test_oc_env_with_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """`${oc.env:VAR,default}` reads the environment and falls back to the default."""
    monkeypatch.setenv("KIT_T_SET", "yes")
    monkeypatch.delenv("KIT_T_UNSET", raising=False)
    cfg = OmegaConf.create({"a": "${oc.env:KIT_T_SET}", "b": "${oc.env:KIT_T_UNSET,fallback}"})
    assert to_container(cfg) == {"a": "yes", "b": "fallback"}


def test_now_resolver() -> None:
    """Hydra's `${now:FORMAT}` is available."""
    import dataclasses

    @dataclasses.dataclass
    class C:
        year: int

    assert structure(OmegaConf.create({"year": "${now:%Y}"}), C).year >= 2024


def _fake_dist(root: Path, body: str) -> None:
    """A minimal installed distribution with a `kit_config.resolvers` entry point."""
    (root / "kit_test_plugin.py").write_text(textwrap.dedent(body))
    info = root / "kit_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-test-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[kit_config.resolvers]\nshout = kit_test_plugin:shout\nbroken = kit_test_plugin:missing\n"
    )


def _run(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True
    )


def test_entry_point_plugin_loads_lazily(tmp_path: Path) -> None:
    """An entry-point resolver is not imported at `import kit_config`, only on first resolution."""
    _fake_dist(tmp_path, "def shout(x):\n    return x.upper()\n")
    out = _run(
        tmp_path,
        """
        import sys
        import kit_config
        from omegaconf import OmegaConf
        cfg = kit_config.compose(None, ["+a=${shout:hi}"])
        print("kit_test_plugin" in sys.modules)
        print(kit_config.to_container(cfg))
        print("kit_test_plugin" in sys.modules)
        """,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["False", "{'a': 'HI'}", "True"]


def test_broken_plugin_is_named_when_used(tmp_path: Path) -> None:
    """A plugin that fails to load is skipped with a warning and named when its resolver is used."""
    _fake_dist(tmp_path, "def shout(x):\n    return x.upper()\n")
    out = _run(
        tmp_path,
        """
        import dataclasses, kit_config
        @dataclasses.dataclass
        class C:
            a: str
        try:
            kit_config.structure(kit_config.compose(None, ["+a=${broken:1}"]), C)
        except kit_config.ConfigValidationError as e:
            print(e.problems[0].message)
        """,
    )
    assert out.returncode == 0, out.stderr
    assert "unknown resolver 'broken'" in out.stdout
    assert "its plugin failed to load" in out.stdout
    assert "failed to load" in out.stderr
