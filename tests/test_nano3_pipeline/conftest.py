"""Shared by the Slurm-backed tests: the running Slurm that `.ci/services/slurm-up` describes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SERVICES = Path(os.environ.get("KIT_SERVICES_DIR", "/tmp/kit-services"))


def slurm_service() -> dict[str, str]:
    """The KEY=VALUE pairs of `slurm.env`; skips with SERVICE-MISSING (CI refuses) without it."""
    env_file = SERVICES / "slurm.env"
    if not env_file.is_file():
        pytest.skip("SERVICE-MISSING: Slurm is not running (run .ci/services/slurm-up)")
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines()
             if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def publish_tiny_stand_ins(root: Path) -> None:
    """Publish a typed stand-in (each in its own folder under `root`) for every artifact the
    tiny stage configs read, so that planning pins them and the typed check accepts them."""
    from kit_artifacts import (
        ModelArtifact,
        PretrainBlendsArtifact,
        SFTDataArtifact,
        SplitJsonlDataArtifact,
    )

    def folder(name: str) -> str:  # each artifact's metadata.json lives in its own folder
        (root / name).mkdir(parents=True)
        (root / name / "blend.json").write_text('{"train": [], "valid": [], "test": []}')
        (root / name / "manifest.json").write_text('{"train": null, "val": null, "test": null}')
        return str(root / name)

    stand_ins = {
        "nano3-pretrain-data-tiny": PretrainBlendsArtifact(
            path=folder("pretrain-data"), total_tokens=1, total_sequences=1,
            blend_path=str(root / "pretrain-data" / "blend.json"), tokenizer_uri="gpt2"),
        "nano3-sft-data-tiny": SFTDataArtifact(path=folder("sft-data"), total_tokens=1,
                                               total_sequences=1, pack_size=1),
        "nano3-rl-data-tiny": SplitJsonlDataArtifact(  # its path is the manifest file
            path=str(Path(folder("rl-data")) / "manifest.json"), total_sequences=1),
        "nano3-pretrain-model-tiny": ModelArtifact(path=folder("pretrain-model"), step=1),
        "nano3-sft-model-tiny": ModelArtifact(path=folder("sft-model"), step=1),
    }
    for name, artifact in stand_ins.items():
        artifact.save(name=name)
