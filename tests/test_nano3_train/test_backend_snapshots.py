"""The snapshot tool: dataclass fields read with `ast` across modules, YAML key paths."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from nano3.stages.tools.backend_snapshots import ClassIndex, refresh_nemo_rl


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_fields_follow_imports_aliases_and_bases(tmp_path: Path) -> None:
    """Inherited fields come through `import ... as`, re-exports, relative imports and
    generic bases; ClassVar/InitVar and methods are not fields; the last binding wins."""
    _write(tmp_path, "core/__init__.py", "from core.base import Base as Exported\n")
    _write(tmp_path, "core/base.py", """
        from dataclasses import dataclass
        @dataclass
        class Base:
            a: int = 1
            b: 'ClassVar[int]' = 2
            def method(self) -> None: ...
        """)
    _write(tmp_path, "pkg/__init__.py", "")
    _write(tmp_path, "pkg/mixin.py", "class Mixin:\n    m: int = 0\n")
    _write(tmp_path, "pkg/config.py", """
        from core import Exported as Base
        from .mixin import Mixin
        from other import Base
        from core import Exported as Base
        class Child(Base, Mixin[int]):
            c: str = ''
            d: InitVar[int] = 0
        """)
    assert ClassIndex([tmp_path]).fields("pkg.config.Child") == ["a", "c", "m"]


def test_nemo_rl_snapshot_includes_the_documented_custom_dataset(tmp_path: Path) -> None:
    """Key paths of the YAML, plus the commented custom-ResponseDataset example in it."""
    cfg = tmp_path / "grpo.yaml"
    cfg.write_text(textwrap.dedent("""\
        grpo:
          seed: 1
        data:
          train:
            dataset_name: X
          # You can use custom response datasets for training and validation. For example:
          # train:
          #   data_path: /path/to/train.jsonl
          # default:
          #   input_key: input
          # See https://example for more details.
        """))
    out = tmp_path / "keys.json"
    refresh_nemo_rl(cfg, "repo@abc", out)
    snap = json.loads(out.read_text())
    assert snap["source"] == "repo@abc"
    assert snap["key_paths"] == ["data", "data.default", "data.default.input_key", "data.train",
                                 "data.train.data_path", "data.train.dataset_name", "grpo",
                                 "grpo.seed"]


def test_bridge_snapshot_names_its_wheels() -> None:
    """The checked-in Bridge snapshot says which wheels it was read from."""
    from nano3.stages._external import snapshot

    snap = snapshot("megatron_bridge_fields")
    assert any(w.startswith("megatron_bridge-0.6.2-") for w in snap["source"])
    assert "train_iters" in snap["sections"]["train"]["fields"]
