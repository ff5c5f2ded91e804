"""Reliability under real concurrency and crashes: separate processes, SIGKILL at random."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kit_artifacts import ArtifactRegistry, ModelArtifact

PUBLISHER = """
import sys
from kit_artifacts import ArtifactRegistry, ModelArtifact
reg = ArtifactRegistry(sys.argv[1])
count = int(sys.argv[2])
worker = sys.argv[3]
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    art = ModelArtifact(path="/nonexistent/" + worker, step=i)
    reg.publish(art, "shared", inputs=(), hash_mode="none")
    i += 1
"""

ALIAS_MOVER = """
import sys
from kit_artifacts import ArtifactRegistry
reg = ArtifactRegistry(sys.argv[1])
worker = int(sys.argv[2])
for i in range(60):
    reg.set_alias("shared", "best", 1 + (worker * 7 + i) % 5)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _committed(root: Path, name: str) -> list[int]:
    found = []
    for entry in (root / name).iterdir():
        if entry.name.startswith("v") and (entry / "version.json").exists():
            json.loads((entry / "version.json").read_text())  # every visible record is complete
            found.append(int(entry.name[1:]))
    return sorted(found)


def test_eight_processes_hundred_publishes_each(tmp_path: Path) -> None:
    """8 processes x 100 publishes to one name give exactly versions 1..800."""
    root = tmp_path / "reg"
    procs = [_spawn(PUBLISHER, str(root), "100", f"w{i}") for i in range(8)]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert _committed(root, "shared") == list(range(1, 801))
    reg = ArtifactRegistry(str(root))
    assert reg.resolve("shared").version == 800
    steps_by_worker: dict[str, list[int]] = {}
    for v in range(1, 801):
        record = reg.record(f"shared:v{v}")
        steps_by_worker.setdefault(record.path, []).append(record.artifact["step"])
    assert sorted(len(s) for s in steps_by_worker.values()) == [100] * 8
    for steps in steps_by_worker.values():
        assert steps == sorted(steps) == list(range(100))  # each worker's order kept, none lost


def test_concurrent_alias_moves_end_consistent(tmp_path: Path) -> None:
    """Several processes moving one alias leave it pointing at a real version, never torn."""
    root = tmp_path / "reg"
    reg = ArtifactRegistry(str(root))
    for i in range(5):
        reg.publish(
            ModelArtifact(path="/nonexistent", step=i), "shared", inputs=(), hash_mode="none"
        )
    procs = [_spawn(ALIAS_MOVER, str(root), str(w)) for w in range(4)]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    raw = str((root / "shared" / "aliases" / "best").readlink())  # aliases are symlink pointers
    assert raw.strip().isdigit() and 1 <= int(raw) <= 5
    assert reg.resolve("shared:best").version == int(raw)
    assert reg.aliases("shared")["latest"] == 5
    leftovers = [
        p.name for p in (root / "shared" / "aliases").iterdir() if p.name.startswith(".tmp")
    ]
    assert leftovers == []


def test_sigkill_never_leaves_partial_version(tmp_path: Path) -> None:
    """A publisher killed at random points leaves only complete versions; the next publish works."""
    root = tmp_path / "reg"
    reg = ArtifactRegistry(str(root))
    rng = random.Random(1234)
    for _round in range(12):
        proc = _spawn(PUBLISHER, str(root), "-1", "killed")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        committed = _committed(root, "shared") if (root / "shared").exists() else []
        if committed:
            assert committed == list(range(1, committed[-1] + 1))  # no gaps, no partials
            assert reg.resolve("shared").version == committed[-1]
        ref = reg.publish(
            ModelArtifact(path="/after", step=0), "shared", inputs=(), hash_mode="none"
        )
        assert ref.version == (committed[-1] if committed else 0) + 1
        assert reg.resolve("shared").version == ref.version
