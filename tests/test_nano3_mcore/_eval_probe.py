"""`python -m test_nano3_mcore._eval_probe CKPT BLEND SPEC`: rebuild a GPTModel from the
model_config.json beside a checkpoint, load its weights with Megatron-Core's own
`dist_checkpointing.load`, and print the held-out loss as JSON, computed with a plain forward
pass (not the training loop's evaluate)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def main(ckpt: str, blend: str, spec_path: str) -> None:
    from megatron.core import dist_checkpointing
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    from nano3.mcore import read_model_shape
    from nano3.mcore._build import build_datasets, build_model
    from nano3.mcore._config import TrainSettings
    from nano3.mcore._cpu_compat import apply_cpu_compat
    from nano3.mcore._dist import dist_env, init_distributed, shutdown_distributed
    from nano3.mcore._pretrain import micro_batches

    spec = json.loads(Path(spec_path).read_text())
    trainer = TrainSettings(**spec["trainer"])
    shape = read_model_shape(Path(ckpt))
    with apply_cpu_compat():
        init_distributed(dist_env(), use_cuda=False)
        model_parallel_cuda_manual_seed(999)  # a different init: the load must overwrite it
        model = build_model(shape, use_cuda=False)
        state = dist_checkpointing.load({"model": model.sharded_state_dict()}, ckpt)
        model.load_state_dict(state["model"], strict=True)
        _, valid = build_datasets(Path(blend), shape, trainer, trainer.micro_batch_size,
                                  Path(ckpt).parent / "probe_cache")
        model.eval()
        losses = []
        with torch.no_grad():
            for b in micro_batches(valid, 0, trainer.micro_batch_size, trainer.eval_batches, 0,
                                   1, torch.device("cpu")):
                per_token = model(b["tokens"], b["position_ids"], None, labels=b["labels"])
                mask = b["loss_mask"].float()
                losses.append(float((per_token.float() * mask).sum() / mask.sum()))
        shutdown_distributed()
    print(json.dumps({"eval_loss": sum(losses) / len(losses)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
