"""A fresh GPTModel next to a saved one, built and loaded with Megatron-Core's own calls.

    python -m test_nano3_train._eval_probe CKPTS BLEND MBS BATCHES  -> {"eval_loss": float}
    python -m test_nano3_train._eval_probe CKPTS changed SEED       -> {"changed": [names]}

The first rebuilds the model from the `model_config.json` of the newest save in CKPTS (a
`checkpoints/` folder), loads the weights with `dist_checkpointing.load` into a model
initialised from another seed, and computes the held-out loss with a plain forward pass over
the blend's valid split (not the training loop's evaluation). The second lists the parameters
whose saved value differs from a fresh model initialised from SEED (the run's own init).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch


def _fresh(ckpts: str, seed: int) -> tuple[Any, Any, Path]:
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    from nano3.stages._checkpoint import read_saved_model
    from nano3.stages._megatron import build_model

    saved = read_saved_model(ckpts)
    torch.manual_seed(seed)
    model_parallel_cuda_manual_seed(seed)
    return build_model(saved.shape, use_cuda=False), saved.shape, saved.path


def main(ckpts: str, mode: str, *rest: str) -> None:
    from megatron.core import dist_checkpointing

    from nano3.stages import TrainerConfig
    from nano3.stages._cpu_compat import apply_cpu_compat
    from nano3.stages._dist import dist_env, init_distributed, shutdown_distributed
    from nano3.stages._megatron import build_datasets

    with apply_cpu_compat():
        init_distributed(dist_env(), use_cuda=False)
        try:
            if mode == "changed":
                model, _, path = _fresh(ckpts, int(rest[0]))
                before = {k: v.clone() for k, v in model.state_dict().items()
                          if isinstance(v, torch.Tensor)}
                state = dist_checkpointing.load({"model": model.sharded_state_dict()}, str(path))
                model.load_state_dict(state["model"], strict=True)
                after = model.state_dict()
                changed = sorted(k for k, v in before.items() if not torch.equal(v, after[k]))
                print(json.dumps({"changed": changed}))
                return
            mbs, batches = int(rest[0]), int(rest[1])
            model, shape, path = _fresh(ckpts, 999)  # another init: the load must overwrite it
            state = dist_checkpointing.load({"model": model.sharded_state_dict()}, str(path))
            model.load_state_dict(state["model"], strict=True)
            trainer = TrainerConfig(micro_batch_size=mbs, eval_batches=batches, max_steps=1)
            _, valid = build_datasets(Path(mode), shape, trainer, mbs, path.parent / "probe")
            model.eval()
            losses = []
            with torch.no_grad():
                for i in range(batches):
                    items = [valid[i * mbs + j] for j in range(mbs)]
                    b = {k: torch.stack([it[k] for it in items])
                         for k in ("tokens", "labels", "loss_mask", "position_ids")}
                    per_token = model(b["tokens"], b["position_ids"], None, labels=b["labels"])
                    mask = b["loss_mask"].float()
                    losses.append(float((per_token.float() * mask).sum() / mask.sum()))
            print(json.dumps({"eval_loss": sum(losses) / len(losses)}))
        finally:
            shutdown_distributed()


if __name__ == "__main__":
    main(*sys.argv[1:])
