"""A small decoder-only language model (GPT-2 style) in plain PyTorch.

Pre-LayerNorm blocks, learned positions, GELU MLP and a head tied to the token embedding.
Attention uses `scaled_dot_product_attention`; packed SFT passes segment ids so that a token
attends only to earlier tokens of its own conversation.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nano3.stages._config import ModelConfig

__all__ = ["DecoderLM", "count_parameters", "segment_causal_mask", "segment_positions"]


def segment_causal_mask(segments: torch.Tensor) -> torch.Tensor:
    """Boolean (B, 1, T, T) mask: causal and within the same segment (padding sees itself)."""
    t = segments.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segments.device).tril()
    same = segments[:, :, None] == segments[:, None, :]
    eye = torch.eye(t, dtype=torch.bool, device=segments.device)
    return ((same & causal) | eye)[:, None, :, :]


def segment_positions(segments: torch.Tensor) -> torch.Tensor:
    """(B, T) position of each token within its own segment (0 at each segment's start).

    Packed SFT rows hold several conversations; each must see the positions it will see at
    inference, where a prompt starts at 0 (Megatron's `reset_position_ids`).
    """
    t = segments.shape[1]
    idx = torch.arange(t, device=segments.device).expand_as(segments)
    start = torch.ones_like(segments, dtype=torch.bool)
    start[:, 1:] = segments[:, 1:] != segments[:, :-1]
    first = torch.where(start, idx, torch.zeros_like(idx)).cummax(dim=1).values
    return idx - first


class _Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.ln1 = nn.LayerNorm(cfg.hidden_size)
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.ln2 = nn.LayerNorm(cfg.hidden_size)
        self.fc = nn.Linear(cfg.hidden_size, cfg.ffn_hidden_size)
        self.out = nn.Linear(cfg.ffn_hidden_size, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        out: torch.Tensor = x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))
        return out


class DecoderLM(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.pos = nn.Embedding(cfg.seq_length, cfg.hidden_size)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.num_layers))
        self.ln_f = nn.LayerNorm(cfg.hidden_size)
        self.apply(self._init)
        # GPT-2's scaled init of residual projections keeps activations stable with depth.
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "out.weight")):
                nn.init.normal_(p, 0.0, cfg.init_std / math.sqrt(2 * cfg.num_layers))

    def _init(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, self.cfg.init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, self.cfg.init_std)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                select: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab); with a boolean `select` (B, T), only those rows (N, vocab).

        Selecting before the vocabulary projection matters: with a 50k vocabulary the head
        is most of the compute, and SFT/RL need logits only on assistant/completion tokens.
        """
        t = ids.shape[1]
        if t > self.cfg.seq_length:
            raise ValueError(f"sequence of {t} tokens exceeds seq_length={self.cfg.seq_length}")
        if segments is None:
            x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))[None]
            mask = None
        else:
            x = self.tok(ids) + self.pos(segment_positions(segments))
            mask = segment_causal_mask(segments)
        for block in self.blocks:
            x = block(x, mask)
        if select is not None:
            x = x[select]
        return F.linear(self.ln_f(x), self.tok.weight)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the tied head counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
