"""RL on the Megatron-Core GPTModel: GRPO-style policy gradient with a verifiable reward.

Each step samples `num_generations_per_prompt` completions for each of
`num_prompts_per_step` training prompts with the current policy, scores them against the
prompts' answers, and normalises rewards within each prompt's group (advantage = (r - mean) /
std): no value model, the group is the baseline. The loss, run through Megatron's
forward-backward schedule, DDP and optimizer like every stage, is the advantage-weighted
log-likelihood of each completion averaged per completion token (GRPO), plus an optional k3
KL penalty to the frozen starting policy. Held-out prompts are scored before and after.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from kit_config import config_digest
from nano3.formats import RLExample, Tokenizer, load_tokenizer
from nano3.stages._checkpoint import load_model_weights, read_saved_model
from nano3.stages._config import RLConfig, default_output_dir
from nano3.stages._loop import Batch, Batches, Context, LoopSpec, Task, run_loop
from nano3.stages._megatron import build_model, logits_at, unwrap
from nano3.stages._result import MetricsSink, PrintMetrics, StageResult
from nano3.stages._rl_data import REWARDS, clean_completion, exact_match, load_rl_splits
from nano3.stages.errors import DataFormatError, StageConfigError

__all__ = ["generate", "group_advantages", "rl_forward_step", "run_rl", "sample_prompts"]


def group_advantages(rewards: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """(P, G) rewards -> advantages relative to each prompt's group mean (/ its std)."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not normalize:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True, unbiased=False) + 1e-4)


def _positions(ids: torch.Tensor) -> torch.Tensor:
    return torch.arange(ids.shape[1], device=ids.device).expand_as(ids)


@torch.no_grad()
def generate(next_logits: Callable[[torch.Tensor], torch.Tensor], prompts: list[list[int]],
             n: int, max_new: int, eod: int,
             vocab: int, temperature: float, gen: torch.Generator | None,
             device: torch.device, greedy: bool = False,
             finished: Callable[[list[int]], bool] | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample `n` completions of each of `prompts` (all of one length) in one batch; returns
    tokens (P*n, max_new), prompt-major, and a validity mask.

    `next_logits(ids)` gives the logits of the token after each row of `ids` (rows, t).

    A completion ends with (and includes) its first end-of-document token, or the token after
    which `finished(completion_ids)` holds (a chat turn's end is text, several tokens long);
    positions after the end hold `eod` and are masked out, so they earn no credit.
    """
    ids = torch.tensor([p for p in prompts for _ in range(n)], dtype=torch.long, device=device)
    rows = ids.shape[0]
    out = torch.full((rows, max_new), eod, dtype=torch.long, device=device)
    mask = torch.zeros((rows, max_new), dtype=torch.bool, device=device)
    alive = torch.ones(rows, dtype=torch.bool, device=device)
    for t in range(max_new):
        logits = next_logits(ids)[:, :vocab].float()
        if greedy:
            nxt = logits.argmax(dim=-1)
        else:
            # Inverse-CDF sampling: one uniform per row; several times faster than
            # torch.multinomial over a 50k vocabulary on CPU, and just as exact.
            cdf = torch.softmax(logits / temperature, dim=-1).cpu().cumsum(dim=-1)
            u = torch.rand((cdf.shape[0], 1), generator=gen) * cdf[:, -1:]
            nxt = torch.searchsorted(cdf, u).squeeze(1).clamp(max=vocab - 1).to(device)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, eod))
        out[:, t] = nxt
        mask[:, t] = alive
        alive = alive & (nxt != eod)
        if finished is not None:
            for i in alive.nonzero().flatten().tolist():
                if finished(out[i, :t + 1].tolist()):
                    alive[i] = False
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if not alive.any():
            break
    return out, mask


Completions = list[tuple[torch.Tensor, torch.Tensor]]


def sample_prompts(next_logits: Callable[[torch.Tensor], torch.Tensor],
                   prompts: list[list[int]], n: int, *, max_rows: int = 256,
                   **generate_kw: Any) -> Completions:
    """`generate` for prompts of any lengths: (tokens, mask) of `n` completions per prompt,
    in prompt order. Prompts of one length share a batch of at most `max_rows` rows: every
    generated token is one GPTModel forward, whose fixed cost dominates at these sizes."""
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    out: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(prompts)
    per_batch = max(1, max_rows // n)
    for length in sorted(by_length):
        group = by_length[length]
        for start in range(0, len(group), per_batch):
            chunk = group[start:start + per_batch]
            comps, masks = generate(next_logits, [prompts[i] for i in chunk], n,
                                    **generate_kw)
            for j, i in enumerate(chunk):
                out[i] = (comps[j * n:(j + 1) * n], masks[j * n:(j + 1) * n])
    return [c for c in out if c is not None]


def _completion_text(tok: Tokenizer, ids: torch.Tensor, mask: torch.Tensor,
                     stops: list[str]) -> str:
    kept = [int(i) for i, m in zip(ids.tolist(), mask.tolist(), strict=True)
            if m and i != tok.eod_id]
    return clean_completion(tok.decode(kept), stops)


def _encode_prompts(examples: list[RLExample], tok: Tokenizer, template: str,
                    limit: int, where: str) -> list[list[int]]:
    out = []
    for i, ex in enumerate(examples):
        ids = tok.encode(template.format(prompt=ex.prompt))
        if not ids or len(ids) > limit:
            raise DataFormatError(f"{where} record {i}", f"prompt has {len(ids)} tokens; "
                                  f"1..{limit} fit the model with grpo.max_new_tokens",
                                  hint="shorten prompts or lower grpo.max_new_tokens")
        out.append(ids)
    return out


def _sampler(model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """`generate`'s next-token logits from a GPTModel, in eval mode (no dropout): the
    vocabulary head runs for the last position only."""
    def next_logits(ids: torch.Tensor) -> torch.Tensor:
        model.eval()
        last = torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
        last[:, -1] = True
        return logits_at(model, ids, _positions(ids), None, last)

    return next_logits


def rl_forward_step(data_iterator: Iterator[Batch], model: Any) -> Any:
    """Megatron's forward-step contract for the GRPO loss: log-probs at completion positions
    only (the prompt is not the policy's action), weighted by their row's advantage."""
    b = next(data_iterator)
    sel = b["select"]
    logits = logits_at(model, b["tokens"], _positions(b["tokens"]), None, sel)

    def loss_func(output: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logp = torch.log_softmax(output.float(), dim=-1).gather(
            -1, b["targets"][:, None]).squeeze(-1)
        per_tok = -b["advantages"] * logp
        if "ref_logp" in b:  # k3 estimator of KL(policy || starting policy)
            diff = b["ref_logp"] - logp
            per_tok = per_tok + b["kl_coef"] * (torch.exp(diff) - diff - 1)
        per_seq = torch.zeros(sel.shape[0], device=sel.device).index_add(0, b["rows"], per_tok)
        loss = (per_seq / sel.sum(dim=1).clamp(min=1).float()).mean()
        return loss, {"loss": loss.detach().clone()}

    return logits, loss_func


def _rollout_batch(rows: list[list[int]], comp_masks: list[list[bool]], adv: torch.Tensor,
                   eod: int, device: torch.device) -> Batch:
    """Right-padded rollouts as one micro batch: inputs, the completion positions to score
    (shifted by one: position t predicts token t+1), their targets, rows and advantages."""
    width = max(len(x) for x in rows)
    ids = torch.full((len(rows), width), eod, dtype=torch.long)
    cmask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (x, m) in enumerate(zip(rows, comp_masks, strict=True)):
        ids[i, :len(x)] = torch.tensor(x)
        cmask[i, :len(m)] = torch.tensor(m)
    sel = cmask[:, 1:]
    row = torch.arange(len(rows))[:, None].expand_as(sel)[sel]
    batch = {"tokens": ids[:, :-1], "select": sel, "targets": ids[:, 1:][sel], "rows": row,
             "advantages": adv[row]}
    return {k: v.to(device) for k, v in batch.items()}


def run_rl(cfg: RLConfig, sink: MetricsSink | None = None, *,
           stop_at_step: int | None = None, tokenizer: Tokenizer | None = None
           ) -> StageResult:
    """Improve the policy `cfg.model` on `cfg.data` prompts; returns the final checkpoint."""
    sink = sink or PrintMetrics("[rl] ")
    g, tr = cfg.grpo, cfg.trainer
    base = read_saved_model(cfg.model.path, cfg.model.step)
    shape = base.shape
    spec_tok = cfg.tokenizer or base.info.get("tokenizer")
    if tokenizer is None:
        if not spec_tok:
            raise StageConfigError("rl", "tokenizer", "the model records no tokenizer; "
                                   "set tokenizer=PATH|gpt2|bytes")
        tokenizer = load_tokenizer(str(spec_tok))
    tok = tokenizer
    if tok.vocab_size > shape.vocab_size:
        raise StageConfigError("rl", "tokenizer", f"{tok.uri} has {tok.vocab_size} ids "
                               f"but the model only {shape.vocab_size}")
    splits = load_rl_splits(cfg.data)
    train_ex = splits["train"]
    held_ex = splits["val"] or splits["test"]
    if not held_ex:  # hold the tail of train out so the metric is on unseen prompts
        cut = max(1, min(g.eval_prompts, len(train_ex) // 5))
        train_ex, held_ex = train_ex[:-cut], train_ex[-cut:]
    held_ex = held_ex[:g.eval_prompts]
    limit = shape.seq_length - g.max_new_tokens
    train_ids = _encode_prompts(train_ex, tok, g.prompt_template, limit, cfg.data.path)
    held_ids = _encode_prompts(held_ex, tok, g.prompt_template, limit, cfg.data.path)
    reward_fn: Callable[[str, str], float] = REWARDS[g.reward]
    n_gen, eod = g.num_generations_per_prompt, tok.eod_id
    stops = [s for s in g.stop_strings if s]

    def finished(completion: list[int]) -> bool:
        text = tok.decode(completion)
        return any(s in text for s in stops)

    def make_task(ctx: Context) -> Task:
        if g.num_prompts_per_step % ctx.world_size:
            raise StageConfigError("rl", "grpo.num_prompts_per_step",
                                   f"{g.num_prompts_per_step} is not divisible by the "
                                   f"world size {ctx.world_size}")
        per_rank = g.num_prompts_per_step // ctx.world_size
        policy = unwrap(ctx.ddp)
        sample = _sampler(policy)
        ref = None
        if g.kl_coef > 0:
            ref = build_model(shape, ctx.device.type == "cuda")
            load_model_weights(base.path, ref)
            ref.eval()

        def batches(step: int) -> Batches:
            gen = torch.Generator().manual_seed(tr.seed * 7_777 + step * 131 + ctx.rank)
            rows, comp_masks, rewards = [], [], []
            ks = [(step * g.num_prompts_per_step + ctx.rank * per_rank + j) % len(train_ids)
                  for j in range(per_rank)]
            sampled = sample_prompts(sample, [train_ids[k] for k in ks], n_gen,
                                     max_new=g.max_new_tokens, eod=eod, vocab=tok.vocab_size,
                                     temperature=g.temperature, gen=gen, device=ctx.device,
                                     finished=finished)
            for k, (comps, masks) in zip(ks, sampled, strict=True):
                prompt = train_ids[k]
                for c, m in zip(comps, masks, strict=True):
                    text = _completion_text(tok, c, m, g.stop_strings)
                    rewards.append(reward_fn(text, train_ex[k].answer))
                    rows.append(prompt + c.tolist())
                    comp_masks.append([False] * len(prompt) + m.tolist())
            policy.train()
            r = torch.tensor(rewards, dtype=torch.float32).view(per_rank, n_gen)
            batch = _rollout_batch(rows, comp_masks,
                                   group_advantages(r, g.normalize_rewards).view(-1), eod,
                                   ctx.device)
            if ref is not None:
                with torch.no_grad():
                    out = logits_at(ref, batch["tokens"], _positions(batch["tokens"]), None,
                                    batch["select"]).float()
                    batch["ref_logp"] = torch.log_softmax(out, dim=-1).gather(
                        -1, batch["targets"][:, None]).squeeze(-1)
                batch["kl_coef"] = torch.tensor(g.kl_coef, device=ctx.device)
            return Batches([batch], sum(len(x) for x in rows),
                           {"reward": float(r.mean()),
                            "completion_tokens": float(batch["select"].sum())})

        @torch.no_grad()
        def evaluate() -> dict[str, float]:
            gen = torch.Generator().manual_seed(tr.seed + 99)
            common: dict[str, Any] = {"max_new": g.max_new_tokens, "eod": eod,
                                      "vocab": tok.vocab_size, "device": ctx.device,
                                      "finished": finished}
            sampled = sample_prompts(sample, held_ids, g.eval_generations,
                                     temperature=g.temperature, gen=gen, **common)
            greedy_out = sample_prompts(sample, held_ids, 1, temperature=1.0, gen=None,
                                        greedy=True, **common)
            rewards, greedy = [], []
            for ex, (comps, masks), (c1, m1) in zip(held_ex, sampled, greedy_out, strict=True):
                rewards += [reward_fn(_completion_text(tok, c, mk, g.stop_strings), ex.answer)
                            for c, mk in zip(comps, masks, strict=True)]
                greedy.append(exact_match(_completion_text(tok, c1[0], m1[0], g.stop_strings),
                                          ex.answer))
            policy.train()
            return {"mean_reward": sum(rewards) / len(rewards),
                    "greedy_exact_match": sum(greedy) / len(greedy)}

        return Task(rl_forward_step, batches, evaluate)

    key = config_digest({"stage": "rl", "data": cfg.data.path, "model": cfg.model.path,
                         "model_step": cfg.model.step,
                         "tokenizer": tok.uri, "grpo": attrs.asdict(g),
                         "optimizer": attrs.asdict(cfg.optimizer), "seed": tr.seed,
                         "max_steps": tr.max_steps})
    out_dir = Path(cfg.output_dir or default_output_dir(cfg.artifact_name))
    info = {"tokenizer": tok.uri, "data": cfg.data.path, "base_model": str(base.path)}
    result = run_loop(LoopSpec("rl", out_dir, shape, cfg.optimizer, tr, info, key, "", make_task,
                               init_weights=base.path), sink, stop_at_step)
    result.metadata.update({"tokenizer": tok.uri, "base_model": str(base.path),
                            "reward": g.reward, "algorithm": "grpo",
                            "held_out_prompts": len(held_ex), "train_prompts": len(train_ex)})
    return result
