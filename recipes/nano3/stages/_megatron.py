"""Build the Megatron-Core pieces of a run: GPTModel, DDP wrapper, optimizer, LR schedule, data.

Everything here is Megatron-Core's own: the local layer spec on CPU (fp32), the Transformer
Engine spec when TE and CUDA are present (bf16), `DistributedDataParallel`,
`get_megatron_optimizer`, `OptimizerParamScheduler` and `BlendedMegatronDatasetBuilder` over the
data artifact's blend.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import torch

from nano3.formats import Blend, read_blend
from nano3.stages._config import ModelConfig, OptimizerConfig, TrainerConfig

__all__ = ["build_datasets", "build_model", "build_optimizer", "has_te", "logits_at",
           "transformer_config", "unwrap", "wrap_ddp"]


def has_te() -> bool:
    """Transformer Engine importable and a GPU present (the TE spec needs both)."""
    if not torch.cuda.is_available():
        return False
    import importlib.util

    return importlib.util.find_spec("transformer_engine") is not None


def transformer_config(shape: ModelConfig, use_cuda: bool) -> Any:
    """Megatron's TransformerConfig for the shape: fp32 on CPU, bf16 on GPU.

    `gradient_accumulation_fusion`, `persist_layer_norm` and `apply_rope_fusion` need Apex / TE
    kernels and fail on CPU. They stay off on GPU too: persist_layer_norm needs Apex (not in
    our requirements), rope is unused (learned positions), and the wgrad fusion is a later,
    measured step (bench/train_megatron_gpu.py)."""
    from megatron.core.transformer.transformer_config import TransformerConfig

    return TransformerConfig(
        num_layers=shape.num_layers, hidden_size=shape.hidden_size,
        num_attention_heads=shape.num_attention_heads, ffn_hidden_size=shape.ffn_hidden_size,
        hidden_dropout=shape.dropout, attention_dropout=shape.dropout,
        init_method_std=shape.init_std,
        use_cpu_initialization=not use_cuda,
        bf16=use_cuda, params_dtype=torch.bfloat16 if use_cuda else torch.float32,
        pipeline_dtype=torch.bfloat16 if use_cuda else torch.float32,
        gradient_accumulation_fusion=False, persist_layer_norm=False, apply_rope_fusion=False,
    )


def build_model(shape: ModelConfig, use_cuda: bool, packed: bool = False) -> Any:
    """A GPTModel with the local spec (TE spec when TE and CUDA are present), unwrapped.

    `packed` (SFT's block-diagonal masks) keeps the local spec: its attention applies the
    given mask (unfused softmax, `masked_softmax_fusion` is off), while TE's causal attention
    would ignore it. Both specs save the same checkpoint keys."""
    from megatron.core.models.gpt import GPTModel
    from megatron.core.models.gpt.gpt_layer_specs import (
        get_gpt_layer_local_spec,
        get_gpt_layer_with_transformer_engine_spec,
    )

    cfg = transformer_config(shape, use_cuda)
    spec = get_gpt_layer_with_transformer_engine_spec() if has_te() and not packed else (
        get_gpt_layer_local_spec())
    model = GPTModel(config=cfg, transformer_layer_spec=spec, vocab_size=shape.vocab_size,
                     max_sequence_length=shape.seq_length, pre_process=True, post_process=True,
                     share_embeddings_and_output_weights=True,
                     position_embedding_type="learned_absolute")
    if use_cuda:
        model.cuda(torch.cuda.current_device())
    return model


def wrap_ddp(model: Any, use_cuda: bool) -> Any:
    """Megatron's DistributedDataParallel (bf16 wrapped in Float16Module on GPU).

    Required even with one process: `get_megatron_optimizer` reads the wrapper's `ddp_config`."""
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig
    from megatron.core.transformer.module import Float16Module

    cfg = model.config
    inner = Float16Module(cfg, model) if use_cuda else model
    ddp_cfg = DistributedDataParallelConfig(grad_reduce_in_fp32=True, overlap_grad_reduce=False,
                                            use_distributed_optimizer=False)
    return DistributedDataParallel(config=cfg, ddp_config=ddp_cfg, module=inner)


def build_optimizer(ddp: Any, opt: OptimizerConfig, max_steps: int, use_cuda: bool) -> Any:
    """Adam(W) from `get_megatron_optimizer` and Megatron's warmup + cosine scheduler."""
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    cfg = OptimizerConfig(optimizer="adam", lr=opt.lr, min_lr=opt.min_lr,
                          weight_decay=opt.weight_decay, adam_beta1=opt.beta1,
                          adam_beta2=opt.beta2, clip_grad=opt.clip_grad, bf16=use_cuda,
                          params_dtype=torch.bfloat16 if use_cuda else torch.float32)
    optimizer = get_megatron_optimizer(cfg, [ddp])
    sched = OptimizerParamScheduler(
        optimizer, init_lr=0.0 if opt.warmup_steps else opt.lr, max_lr=opt.lr,
        min_lr=opt.min_lr, lr_warmup_steps=opt.warmup_steps,
        lr_decay_steps=max(max_steps, opt.warmup_steps + 1), lr_decay_style="cosine",
        start_wd=opt.weight_decay, end_wd=opt.weight_decay, wd_incr_steps=max_steps,
        wd_incr_style="constant")
    return optimizer, sched


@attrs.frozen
class _Tokenizer:
    """What GPTDataset reads of a tokenizer: the vocabulary size (token dtype) and EOD id."""

    vocab_size: int
    eod: int

    @property
    def unique_identifiers(self) -> dict[str, Any]:
        """Part of each dataset's cache key (Megatron hashes the config's description)."""
        return {"class": "nano3.stages", "vocab_size": self.vocab_size, "eod": self.eod}


def _megatron_blend(entries: list[Any] | None) -> tuple[list[str], list[float]] | None:
    if not entries:
        return None
    return [e.prefix for e in entries], [e.weight for e in entries]


def build_datasets(blend_path: Path, shape: ModelConfig, train: TrainerConfig,
                   global_batch: int, cache_dir: Path) -> tuple[Any, Any]:
    """(train, valid) GPTDatasets from blend.json via `BlendedMegatronDatasetBuilder`.

    The train split is sized for the whole run (max_steps x global batch samples), the valid
    split for `eval_batches` global batches; valid is None when the blend has no valid split.
    Rank 0 builds (and caches) the sample indices first, the other ranks then read them."""
    from megatron.core.datasets.blended_megatron_dataset_builder import (
        BlendedMegatronDatasetBuilder,
    )
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    blend: Blend = read_blend(blend_path)
    cfg = GPTDatasetConfig(
        random_seed=train.seed, sequence_length=shape.seq_length,
        blend_per_split=[_megatron_blend(blend["train"]), _megatron_blend(blend["valid"]), None],
        # EOD is read only with reset_* / eod_mask_loss, which are off: documents run on.
        tokenizer=_Tokenizer(shape.vocab_size, 0),  # type: ignore[arg-type]
        reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
        create_attention_mask=False, path_to_cache=str(cache_dir), mmap_bin_files=True)
    valid_n = train.eval_batches * global_batch if blend["valid"] else 0
    sizes = [train.max_steps * global_batch, valid_n, 0]
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    out: list[Any] = []
    for turn in (0, 1):
        if (rank == 0) == (turn == 0):
            out = BlendedMegatronDatasetBuilder(GPTDataset, sizes, lambda: True, cfg).build()
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
    return out[0], out[1]


def unwrap(model: Any) -> Any:
    """The GPTModel inside Megatron's DDP (and Float16Module) wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model


def logits_at(model: Any, tokens: torch.Tensor, position_ids: torch.Tensor,
              attention_mask: torch.Tensor | None, select: torch.Tensor) -> torch.Tensor:
    """Logits (N, vocab) at the positions where the boolean `select` (B, S) is True.

    GPTModel's own forward projects every position onto the vocabulary; SFT's loss and RL's
    sampling need only a few (assistant labels, the last token), and with a 50k vocabulary
    the head is most of the compute. So this runs GPTModel's embedding and decoder (which
    ends with the final LayerNorm) and its tied output layer on the selected rows only, the
    way Megatron's inference path keeps only the last token's logits. Called on the DDP
    wrapper's module, gradients still flow into Megatron's grad buffers."""
    gpt = unwrap(model)
    hidden = gpt.decoder(hidden_states=gpt.embedding(input_ids=tokens, position_ids=position_ids),
                         attention_mask=attention_mask)  # [S, B, H]
    rows = hidden.transpose(0, 1)[select]  # [N, H]
    weight = gpt.shared_embedding_or_output_weight() if gpt.share_embeddings_and_output_weights \
        else None
    logits, _ = gpt.output_layer(rows.unsqueeze(1), weight=weight)
    out: torch.Tensor = logits.squeeze(1)
    return out
