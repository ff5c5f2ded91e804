"""SFT on packed Parquet and GRPO RL: assistant-token loss falls, held-out reward rises."""
from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import torch

from kit_artifacts import (
    ModelArtifact,
    PretrainBlendsArtifact,
    SFTDataArtifact,
    SplitJsonlDataArtifact,
)
from nano3.stages import DataFormatError, PrintMetrics, StageConfigError
from nano3.stages._config import (
    GRPOConfig,
    ModelConfig,
    OptimizerConfig,
    PretrainConfig,
    RLConfig,
    SFTConfig,
    TrainerConfig,
)
from nano3.stages._local_pretrain import run_pretrain
from nano3.stages._local_rl import group_advantages, run_rl
from nano3.stages._local_sft import run_sft

from .conftest import load_typed, make_pretrain_data, make_rl_data, make_sft_data, typed


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pretrain a tiny byte-level model once, shared by the SFT and RL tests."""
    root = tmp_path_factory.mktemp("chain")
    data = make_pretrain_data(root / "pre")
    model = ModelConfig(vocab_size=257, seq_length=64, num_layers=2, hidden_size=64,
                        num_attention_heads=4, ffn_hidden_size=128)
    cfg = PretrainConfig(data=load_typed(PretrainBlendsArtifact, data),
                         output_dir=str(root / "pre-out"), model=model,
                         optimizer=OptimizerConfig(lr=5e-3, min_lr=5e-4, warmup_steps=3),
                         trainer=TrainerConfig(max_steps=40, micro_batch_size=8,
                                               checkpoint_every=40, num_threads=1))
    res = run_pretrain(cfg, PrintMetrics(quiet=True))
    return {"root": root, "pretrained": Path(res.checkpoint)}


def sft_config(chain: dict[str, Path], out: str, steps: int = 60) -> SFTConfig:
    """SFT config on fresh packed data over the shared pretrained model."""
    data = make_sft_data(chain["root"] / f"sft-{out}", pack=64)
    return SFTConfig(data=load_typed(SFTDataArtifact, data),
                     model=typed(ModelArtifact, chain["pretrained"]),
                     output_dir=str(chain["root"] / out),
                     optimizer=OptimizerConfig(lr=3e-3, min_lr=3e-4, weight_decay=0.0),
                     trainer=TrainerConfig(max_steps=steps, micro_batch_size=8,
                                           checkpoint_every=steps, num_threads=1))


def test_sft_assistant_loss_falls(chain: dict[str, Path]) -> None:
    """Masked loss on held-out assistant tokens ends below where it starts."""
    res = run_sft(sft_config(chain, "sft-a"), PrintMetrics(quiet=True))
    assert res.completed and res.final_loss is not None
    assert res.final_loss < res.metadata["initial_loss"]
    assert res.metadata["loss_on"] == "assistant_tokens"
    assert res.metadata["base_model"] == str(chain["pretrained"])


def test_sft_rejects_rows_longer_than_the_model(chain: dict[str, Path]) -> None:
    """Packed rows longer than seq_length+1 fail with a re-pack hint."""
    cfg = sft_config(chain, "sft-long")
    cfg = attrs.evolve(cfg, data=load_typed(SFTDataArtifact, make_sft_data(
        chain["root"] / "sft-long-data", pack=200)))
    with pytest.raises(DataFormatError, match="pack_size"):
        run_sft(cfg, PrintMetrics(quiet=True))


def test_sft_needs_a_model_checkpoint(chain: dict[str, Path]) -> None:
    """A model path without model.pt is reported as a checkpoint problem."""
    from nano3.stages import CheckpointError

    cfg = sft_config(chain, "sft-nomodel")
    cfg = attrs.evolve(cfg, model=typed(ModelArtifact, chain["root"]))
    with pytest.raises(CheckpointError, match="model.pt"):
        run_sft(cfg, PrintMetrics(quiet=True))


def test_packed_conversations_restart_their_positions() -> None:
    """Each packed conversation sees positions from 0, as its prompt will at inference."""
    from nano3.stages._model import segment_positions

    seg = torch.tensor([[0, 0, 0, 1, 1, 2, -1, -1], [4, 4, 4, 4, 4, 4, 4, 4]])
    assert segment_positions(seg).tolist() == [[0, 1, 2, 0, 1, 0, 0, 1], list(range(8))]


def test_packed_logits_equal_each_conversation_alone() -> None:
    """A conversation's logits inside a packed row equal its logits run on its own."""
    from nano3.stages._model import DecoderLM

    torch.manual_seed(0)
    model = DecoderLM(ModelConfig(vocab_size=257, seq_length=16, num_layers=2, hidden_size=32,
                                  num_attention_heads=4, ffn_hidden_size=64)).eval()
    a, b = torch.randint(0, 257, (1, 5)), torch.randint(0, 257, (1, 7))
    packed = torch.cat([a, b], dim=1)
    seg = torch.tensor([[0] * 5 + [1] * 7])
    with torch.no_grad():
        together = model(packed, seg)
        assert torch.allclose(together[:, :5], model(a), atol=1e-5)
        assert torch.allclose(together[:, 5:], model(b), atol=1e-5)


class _CountingLM(torch.nn.Module):
    """Greedy next token = last token + 1: a model whose completions are known in advance."""

    def forward(self, ids: torch.Tensor, segments: object, select: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot((ids[select] + 1) % 16, 16).float() * 10


def test_completion_ends_at_the_token_that_finishes_it() -> None:
    """Generation stops a row at the token completing its stop text; later tokens are masked."""
    from nano3.stages._local_rl import generate

    out, mask = generate(_CountingLM(), [3], 2, 6, eod=15, vocab=16, temperature=1.0, gen=None,
                         device=torch.device("cpu"), greedy=True,
                         finished=lambda ids: 6 in ids)
    assert out[0].tolist() == [4, 5, 6, 15, 15, 15]
    assert mask[0].tolist() == [True, True, True, False, False, False]


def test_group_advantages() -> None:
    """Advantages are zero-mean per group and zero when a group agrees."""
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    assert torch.allclose(adv.mean(dim=1), torch.zeros(2), atol=1e-6)
    assert torch.all(adv[1] == 0)
    assert adv[0, 0] > 0 > adv[0, 1]


def test_group_advantages_unnormalised_keep_the_reward_scale() -> None:
    """Without std normalisation a lone success gets 1 - mean, not a std-inflated advantage."""
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(group_advantages(rewards, normalize=False),
                          torch.tensor([[0.75, -0.25, -0.25, -0.25]]))
    assert group_advantages(rewards)[0, 0] > 1.5


def test_rl_raises_held_out_reward(chain: dict[str, Path]) -> None:
    """GRPO raises the mean exact-match reward on held-out prompts above its start."""
    sft = run_sft(sft_config(chain, "sft-for-rl", steps=80), PrintMetrics(quiet=True))
    manifest = make_rl_data(chain["root"] / "rl-data")
    cfg = RLConfig(data=load_typed(SplitJsonlDataArtifact, manifest),
                   model=typed(ModelArtifact, sft.checkpoint),
                   output_dir=str(chain["root"] / "rl-out"),
                   grpo=GRPOConfig(num_prompts_per_step=8, num_generations_per_prompt=8,
                                   max_new_tokens=3, eval_prompts=32, eval_generations=8),
                   optimizer=OptimizerConfig(lr=2e-3, min_lr=2e-3, weight_decay=0.0),
                   trainer=TrainerConfig(max_steps=25, checkpoint_every=25, num_threads=1))
    res = run_rl(cfg, PrintMetrics(quiet=True))
    meta = res.metadata
    assert res.completed
    assert meta["final_mean_reward"] > meta["initial_mean_reward"]
    assert meta["algorithm"] == "grpo" and meta["held_out_prompts"] == 32
    assert meta["tokenizer"] == "bytes"


def test_rl_rejects_indivisible_prompts_and_oversized_tokenizer(chain: dict[str, Path]) -> None:
    """A tokenizer larger than the model's vocabulary is a config error naming `tokenizer`."""
    manifest = make_rl_data(chain["root"] / "rl-bad")
    cfg = RLConfig(data=load_typed(SplitJsonlDataArtifact, manifest),
                   model=typed(ModelArtifact, chain["pretrained"]), tokenizer="gpt2",
                   output_dir=str(chain["root"] / "rl-bad-out"),
                   trainer=TrainerConfig(max_steps=1, num_threads=1))
    with pytest.raises(StageConfigError, match="tokenizer"):
        run_rl(cfg, PrintMetrics(quiet=True))
