"""The nano3 recipe as the `nemotron` CLI sees it: its stages, configs and inputs.

Import-light on purpose (only `kit_cli.recipe`): `nemotron --help` imports this module to list
the recipe, so it must not import a stage, torch or a tokenizer.
"""
from __future__ import annotations

from pathlib import Path

from kit_cli.recipe import Recipe, Stage

__all__ = ["CONFIG_ROOT", "RECIPE"]

# Built-in configs ship as package resources next to the code (they travel inside the PEX).
CONFIG_ROOT = Path(__file__).resolve().parent / "config"

RECIPE = Recipe(
    name="nano3",
    help="Nemotron nano3: data prep -> pretrain -> SFT -> RL, with lineage end to end.",
    stages=(
        # Training stages first: `pretrain` names the training stage, `data prep pretrain`
        # the data preparation for it.
        Stage(
            name="pretrain",
            module="nano3.stages.pretrain",
            config="nano3.stages._config:PretrainConfig",
            help="Pretrain a decoder-only LM on the tokenized pretrain blend.",
            config_dir=CONFIG_ROOT / "pretrain",
            job_target="recipes/nano3:pretrain-job",
            inputs=("nano3-pretrain-data",),
        ),
        Stage(
            name="sft",
            module="nano3.stages.sft",
            config="nano3.stages._config:SFTConfig",
            help="Supervised fine-tuning on packed chat data (loss on assistant turns).",
            config_dir=CONFIG_ROOT / "sft",
            job_target="recipes/nano3:sft-job",
            inputs=("nano3-sft-data", "nano3-pretrain-model"),
        ),
        Stage(
            name="rl",
            module="nano3.stages.rl",
            config="nano3.stages._config:RLConfig",
            help="GRPO-style RL with a verifiable reward on the RL prompts.",
            config_dir=CONFIG_ROOT / "rl",
            job_target="recipes/nano3:rl-job",
            inputs=("nano3-rl-data", "nano3-sft-model"),
        ),
        Stage(
            name="pretrain",
            group=("data", "prep"),
            module="nano3.data_prep.pretrain",
            config="nano3.data_prep._config:PretrainDataConfig",
            help="Tokenize text into Megatron bin/idx shards and per-split blends.",
            config_dir=CONFIG_ROOT / "data_prep" / "pretrain",
            job_target="recipes/nano3:data-prep-pretrain-job",
        ),
        Stage(
            name="sft",
            group=("data", "prep"),
            module="nano3.data_prep.sft",
            config="nano3.data_prep._config:SFTDataConfig",
            help="Chat JSONL -> chat template -> loss mask -> packed Parquet.",
            config_dir=CONFIG_ROOT / "data_prep" / "sft",
            job_target="recipes/nano3:data-prep-sft-job",
        ),
        Stage(
            name="rl",
            group=("data", "prep"),
            module="nano3.data_prep.rl",
            config="nano3.data_prep._config:RLDataConfig",
            help="Split RL prompt records into per-split JSONL and a manifest.",
            config_dir=CONFIG_ROOT / "data_prep" / "rl",
            job_target="recipes/nano3:data-prep-rl-job",
        ),
    ),
)
