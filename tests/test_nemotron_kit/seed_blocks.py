"""The earlier kit's overview (the seed), its code blocks copied verbatim, as test data.

Source: the project seed `shared/seeds/000_529c59843ea372ce.txt` (the overview of the earlier
`nemotron.kit`), beside the clone in CI at `../shared`. Each constant is one fenced block of
it, byte for byte (the fences dropped); `API_REFERENCE` is its "API Reference" section and
`MODULE_STRUCTURE` its module map. `test_seed_examples.py` runs them as written and, when the
seed file is reachable, checks that every constant still appears in it verbatim.
"""
from __future__ import annotations

__all__ = [
    "API_REFERENCE",
    "ARTIFACTS_EXAMPLE",
    "CONFIG_OVERRIDE_RUN",
    "CONFIG_YAML",
    "EXECUTION_EXAMPLE",
    "MODULE_STRUCTURE",
    "QUICK_EXAMPLE",
    "QUICK_EXAMPLE_RUN",
    "SEED_FILE",
]

SEED_FILE = "000_529c59843ea372ce.txt"

# ```python
QUICK_EXAMPLE = '''from nemotron.kit import cli, PretrainBlendsArtifact
from dataclasses import dataclass
from pathlib import Path

@dataclass
class Config:
    data_path: Path
    output_dir: Path
    learning_rate: float = 1e-4

# Load config with CLI override support
config = cli(Config, config_file="config.yaml")

# Load data artifact
data = PretrainBlendsArtifact.load(config.data_path)
print(f"Training on {data.total_tokens:,} tokens")

# ... training code ...

# Save model artifact
model = ModelArtifact(path=config.output_dir, step=10000, loss=2.5)
model.save(name="ModelArtifact-pretrain")
'''

# ```bash
QUICK_EXAMPLE_RUN = '''python train.py --config config.yaml learning_rate=5e-5
'''

# ```python
ARTIFACTS_EXAMPLE = '''from nemotron.kit import PretrainBlendsArtifact

# Load from semantic URI
artifact = PretrainBlendsArtifact.from_uri("art://PretrainBlendsArtifact:latest")
print(f"Path: {artifact.path}")
print(f"Tokens: {artifact.total_tokens:,}")
'''

# ```yaml
CONFIG_YAML = '''# config.yaml
data_path: /data/pretrain
output_dir: ${oc.env:PWD}/output
learning_rate: 1e-4
'''

# ```bash
CONFIG_OVERRIDE_RUN = '''python train.py --config config.yaml output_dir=/scratch/output
'''

# ```bash
EXECUTION_EXAMPLE = '''# Run on Slurm cluster
uv run nemotron nano3 pretrain --run YOUR-CLUSTER

# Run in Docker
uv run nemotron nano3 pretrain --run docker-profile
'''

# ```
MODULE_STRUCTURE = '''nemotron.kit
├── artifacts        # Artifact classes and registry
├── cli              # CLI building and env.toml parsing
├── config           # Configuration loading
├── run              # NeMo-Run executor building
├── trackers         # Lineage tracking backends
└── wandb            # W&B integration utilities
'''

API_REFERENCE = '''## API Reference

### Artifacts

| Export | Description |
|--------|-------------|
| `Artifact` | Base artifact class |
| `PretrainBlendsArtifact` | Pretrain data with train/valid/test splits |
| `SFTDataArtifact` | Packed SFT sequences |
| `SplitJsonlDataArtifact` | RL JSONL data |
| `ModelArtifact` | Model checkpoints |
| `InputDatasetInfo` | Source dataset metadata |

### Configuration

| Export | Description |
|--------|-------------|
| `cli()` | Config loader with CLI support |
| `load_omegaconf_yaml()` | Load YAML with OmegaConf |
| `apply_hydra_overrides()` | Apply key=value overrides |

### Execution

| Export | Description |
|--------|-------------|
| `build_executor()` | Build NeMo-Run executor from profile |
| `load_env_profile()` | Load execution profile from env.toml |

### Tracking

| Export | Description |
|--------|-------------|
| `init_wandb_if_configured()` | Conditional W&B initialization |
| `add_wandb_tags()` | Add tags to W&B runs |
| `finish_wandb()` | Clean W&B shutdown |

'''
