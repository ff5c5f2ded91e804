"""Refresh the checked-in snapshots the external backends' configs are checked against.

Neither framework can be installed here (FACTS.md), so their config schemas are read from
source, never imported:

    pip download --no-deps --python-version 3.12 --only-binary=:all: -d W \\
        megatron-bridge==0.6.2
    pip download --no-deps --python-version 3.12 --platform manylinux_2_28_x86_64 \\
        --only-binary=:all: -d W megatron-core==0.19.2
    python -m nano3.stages.tools.backend_snapshots bridge W

parses the wheels with `ast` and writes `config/backends/megatron_bridge_fields.json`: for
every ConfigContainer section we write, the dataclass field names (inherited ones included).

    python -m nano3.stages.tools.backend_snapshots nemo-rl grpo_math_1B.yaml \\
        --source NVIDIA-NeMo/RL@COMMIT

writes `config/backends/nemo_rl_grpo_keys.json`: every key path of NeMo-RL's example GRPO
config, plus those of the custom-ResponseDataset example that the same file documents in a
comment block (the layout our RL data uses).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nano3.stages._external import SNAPSHOT_DIR, key_paths

__all__ = ["BRIDGE_IMPORTS", "BRIDGE_SECTIONS", "ClassIndex", "main"]

# YAML section -> the class Bridge instantiates there (recipe vanilla_gpt; SFT swaps dataset).
BRIDGE_SECTIONS: dict[str, str] = {
    "": "megatron.bridge.training.config.ConfigContainer",
    "model": "megatron.bridge.models.gpt_provider.GPTModelProvider",
    "train": "megatron.bridge.training.config.TrainingConfig",
    "validation": "megatron.bridge.training.config.ValidationConfig",
    "optimizer": "megatron.bridge.training.config.OptimizerConfig",
    "scheduler": "megatron.bridge.training.config.SchedulerConfig",
    "dataset": "megatron.bridge.training.config.GPTDatasetConfig",
    "sft:dataset": "megatron.bridge.data.builders.gpt_sft.GPTSFTDatasetConfig",
    "sft:dataset.offline_packing_specs": "megatron.bridge.data.packing.config.PackedSequenceSpecs",
    "tokenizer": "megatron.bridge.training.tokenizers.config.TokenizerConfig",
    "checkpoint": "megatron.bridge.training.config.CheckpointConfig",
    "logger": "megatron.bridge.training.config.LoggerConfig",
    "rng": "megatron.bridge.training.config.RNGConfig",
}
# What the generated entry script imports; each must exist in the wheels.
BRIDGE_IMPORTS: dict[str, str] = {
    "megatron.bridge.recipes.gpt.vanilla_gpt": "vanilla_gpt_pretrain_config",
    "megatron.bridge.training.utils.omegaconf_utils": "process_config_with_overrides",
    "megatron.bridge.training.pretrain": "pretrain",
    "megatron.bridge.training.finetune": "finetune",
    "megatron.bridge.training.gpt_step": "forward_step",
    "megatron.bridge.training.config": "GPTSFTDatasetConfig",
    "megatron.bridge.data.packing.config": "PackedSequenceSpecs",
}


class ClassIndex:
    """Find dataclass fields across modules by following imports, without importing."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        self._trees: dict[str, ast.Module | None] = {}

    def _module(self, name: str) -> ast.Module | None:
        if name not in self._trees:
            rel = Path(*name.split("."))
            files = [r / rel.with_suffix(".py") for r in self.roots]
            files += [r / rel / "__init__.py" for r in self.roots]
            found = next((f for f in files if f.is_file()), None)
            self._trees[name] = ast.parse(found.read_text("utf-8")) if found else None
        return self._trees[name]

    def locate(self, module: str, name: str, depth: int = 0) -> tuple[str, ast.ClassDef] | None:
        """The module and ClassDef that `module.name` binds to (imports and aliases followed)."""
        tree = self._module(module)
        if tree is None or depth > 20:
            return None
        bound: tuple[str, str] | None = None
        for node in tree.body:  # the last binding wins, as at import time
            if isinstance(node, ast.ClassDef) and node.name == name:
                return module, node
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.split(".")
                    pkg = parts if self._is_package(module) else parts[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        bound = (base, alias.name)
        if bound is None:
            return None
        return self.locate(*bound, depth=depth + 1) or self.locate(
            f"{bound[0]}.{bound[1]}", bound[1], depth + 1)

    def _is_package(self, module: str) -> bool:
        rel = Path(*module.split("."))
        return any((r / rel / "__init__.py").is_file() for r in self.roots)

    def fields(self, dotted: str) -> list[str]:
        """Sorted dataclass field names of `pkg.module.Class`, inherited ones included."""
        module, _, name = dotted.rpartition(".")
        found = self.locate(module, name)
        if found is None:
            raise LookupError(f"class {dotted} not found under {self.roots}")
        return sorted(set(self._fields(*found)))

    def _fields(self, module: str, cls: ast.ClassDef) -> Iterator[str]:
        for base in cls.bases:
            node = base.value if isinstance(base, ast.Subscript) else base
            if isinstance(node, ast.Name):
                found = self.locate(module, node.id)
                if found is not None:
                    yield from self._fields(*found)
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                ann = ast.unparse(stmt.annotation)
                if "ClassVar" not in ann and "InitVar" not in ann:
                    yield stmt.target.id


def _unpack(wheel_dir: Path, into: Path) -> list[Path]:
    wheels = sorted(wheel_dir.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"no .whl files in {wheel_dir}; download them first (see --help)")
    for whl in wheels:
        with zipfile.ZipFile(whl) as zf:
            zf.extractall(into)
    return wheels


def refresh_bridge(wheel_dir: Path, out: Path) -> dict[str, Any]:
    """Write the Megatron-Bridge field snapshot from the wheels in `wheel_dir`."""
    with tempfile.TemporaryDirectory() as tmp:
        wheels = _unpack(wheel_dir, Path(tmp))
        index = ClassIndex([Path(tmp)])
        sections = {key: {"class": cls, "fields": index.fields(cls)}
                    for key, cls in BRIDGE_SECTIONS.items()}
        missing = [f"{m}.{n}" for m, n in BRIDGE_IMPORTS.items() if not _defines(index, m, n)]
    if missing:
        raise SystemExit(f"the wheels do not define {', '.join(missing)}")
    snap = {"source": [w.name for w in wheels], "refresh": "python -m "
            "nano3.stages.tools.backend_snapshots bridge WHEEL_DIR", "sections": sections,
            "imports": BRIDGE_IMPORTS}
    out.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    return snap


def _defines(index: ClassIndex, module: str, name: str) -> bool:
    tree = index._module(module)
    if tree is None:
        return False
    text = ast.dump(tree)
    return f"name='{name}'" in text or f"asname='{name}'" in text


def _commented_data_example(text: str) -> dict[str, Any]:
    """The `data:` example that grpo_math_1B.yaml documents as comments (custom datasets)."""
    import yaml

    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if "custom response datasets" in ln)
    body = []
    for ln in lines[start + 1:]:
        m = re.match(r"^  # (.*)$", ln)
        if m is None or m.group(1).startswith("See "):
            break
        body.append("  " + m.group(1))
    loaded = yaml.safe_load("data:\n" + "\n".join(body))
    return loaded if isinstance(loaded, dict) else {}


def refresh_nemo_rl(config: Path, source: str, out: Path) -> dict[str, Any]:
    """Write the NeMo-RL GRPO key-path snapshot from its example config file."""
    import yaml

    text = config.read_text("utf-8")
    paths = set(key_paths(yaml.safe_load(text)))
    paths |= set(key_paths(_commented_data_example(text)))
    snap = {"source": source, "file": "examples/configs/grpo_math_1B.yaml",
            "refresh": "python -m nano3.stages.tools.backend_snapshots nemo-rl FILE "
                       "--source OWNER/REPO@COMMIT", "key_paths": sorted(paths)}
    out.write_text(json.dumps(snap, indent=1) + "\n")
    return snap


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `bridge WHEEL_DIR` or `nemo-rl YAML --source REPO@COMMIT`."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bridge")
    b.add_argument("wheel_dir", type=Path)
    b.add_argument("--out", type=Path, default=SNAPSHOT_DIR / "megatron_bridge_fields.json")
    n = sub.add_parser("nemo-rl")
    n.add_argument("config", type=Path)
    n.add_argument("--source", required=True, help="where the file came from: REPO@COMMIT")
    n.add_argument("--out", type=Path, default=SNAPSHOT_DIR / "nemo_rl_grpo_keys.json")
    args = parser.parse_args(argv)
    if args.what == "bridge":
        snap = refresh_bridge(args.wheel_dir, args.out)
        count = sum(len(s["fields"]) for s in snap["sections"].values())
    else:
        count = len(refresh_nemo_rl(args.config, args.source, args.out)["key_paths"])
    print(f"wrote {args.out} ({count} names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
