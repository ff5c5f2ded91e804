"""SFT shard work: chat records -> template -> loss mask -> packed Parquet per split.

The Parquet layout is `nano3.formats` (FORMATS.md section 5).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nano3.data_prep._config import SPLITS, SFTDataConfig, parse_split
from nano3.data_prep._inputs import InputFile, IssueCounter, WorkShard, iter_record_batches
from nano3.data_prep._packing import pack_ffd
from nano3.data_prep._pretrain_work import encode_checked, split_draws
from nano3.data_prep._runner import ProgressSink
from nano3.formats import Tokenizer, write_packed_parquet

__all__ = ["ROLES", "SFTShardProcessor"]

ROLES = ("system", "user", "assistant")
Seq = tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]


class SFTShardProcessor:
    """Tokenizes chats with the template, masks non-assistant tokens, packs per split."""

    def __init__(self, cfg: SFTDataConfig, tokenizer: Tokenizer) -> None:
        self.cfg = cfg
        self.tok = tokenizer
        t = cfg.template
        heads = tokenizer.encode_batch([t.turn_start.format(role=r) for r in ROLES])
        self._head = {r: h.astype(np.int32) for r, h in zip(ROLES, heads, strict=True)}
        self._tail = tokenizer.encode_batch([t.turn_end])[0].astype(np.int32)
        self._head_mask = {r: np.zeros(len(h), dtype=np.uint8) for r, h in self._head.items()}
        self._tail_mask = {learn: np.full(len(self._tail), learn, dtype=np.uint8)
                           for learn in (False, True)}
        self._eod = np.asarray([tokenizer.eod_id], dtype=np.int32)
        self._one = np.ones(1, dtype=np.uint8)

    def _messages(self, rec: dict[str, Any], field: str, pos: int, file: InputFile,
                  issues: IssueCounter) -> list[tuple[str, str]] | None:
        msgs = rec[field]
        if not isinstance(msgs, list) or not msgs:
            issues.report("bad_messages", file=file, pos=pos,
                          detail=f"field {field!r} must be a non-empty list of messages")
            return None
        out = []
        for j, m in enumerate(msgs):
            role = m.get("role") if isinstance(m, dict) else None
            content = m.get("content") if isinstance(m, dict) else None
            if role not in ROLES or not isinstance(content, str):
                issues.report("bad_messages", file=file, pos=pos,
                              detail=f"{field}[{j}] needs role in {'|'.join(ROLES)} and a "
                                     f"string content, got role={role!r}")
                return None
            out.append((role, content))
        if not any(r == "assistant" for r, _ in out):
            issues.report("no_assistant_turn", file=file, pos=pos,
                          detail="conversation has no assistant turn (nothing to learn)")
            return None
        return out

    def _assemble(self, chat: list[tuple[str, str]], contents: list[npt.NDArray[Any]]) -> Seq:
        # Masks of the template parts are built once (`__init__`); the ids are cast to int32
        # by the one concatenate (no per-part astype copy).
        ids: list[npt.NDArray[Any]] = []
        mask: list[npt.NDArray[np.uint8]] = []
        for (role, _), content in zip(chat, contents, strict=True):
            learn = role == "assistant"
            ids += (self._head[role], content, self._tail)
            mask += (self._head_mask[role],
                     (np.ones if learn else np.zeros)(len(content), dtype=np.uint8),
                     self._tail_mask[learn])
        # EOD after the conversation is learned: the model must learn to stop.
        ids.append(self._eod)
        mask.append(self._one)
        return (np.concatenate(ids, dtype=np.int32, casting="unsafe"),
                np.concatenate(mask))

    def process(self, shard: WorkShard, out_dir: Path, sink: ProgressSink) -> dict[str, Any]:
        """Write `out_dir/SPLIT/KEY.parquet`; returns counts per split and skips."""
        cfg, ds = self.cfg, self.cfg.blend[shard.dataset_index]
        rng = np.random.default_rng([cfg.seed, shard.dataset_index, shard.file_index,
                                     shard.start])
        fractions = parse_split(ds.split)
        issues = IssueCounter(cfg.errors.policy)
        per_split: dict[int, list[Seq]] = {0: [], 1: [], 2: []}
        for batch in iter_record_batches(shard, [ds.text_field], cfg.batch_docs, issues):
            chats, positions = [], []
            for rec, pos in zip(batch.records, batch.positions, strict=True):
                chat = self._messages(rec, ds.text_field, pos, shard.file, issues)
                if chat is not None:
                    chats.append(chat)
                    positions.append(pos)
            split, keep = split_draws(rng, len(chats), fractions, cfg.sample.fraction)
            chosen = np.flatnonzero(keep).tolist()
            texts = [c for i in chosen for _, c in chats[i]]
            owner = [i for i in chosen for _ in chats[i]]
            encs, ok = encode_checked(self.tok, texts, [positions[i] for i in owner],
                                      shard.file, issues)
            by_chat: dict[int, list[npt.NDArray[Any]]] = {}
            for enc, j in zip(encs, ok, strict=True):
                by_chat.setdefault(owner[j], []).append(enc)
            ntok = 0
            for i in chosen:
                contents = by_chat.get(i, [])
                if len(contents) != len(chats[i]):  # a turn failed to encode (skip policy)
                    continue
                seq = self._fit(self._assemble(chats[i], contents), issues)
                if seq is not None:
                    per_split[int(split[i])].append(seq)
                    ntok += len(seq[0])
            sink.advance(batch.nbytes, ntok)
        return self._write(per_split, out_dir, shard, issues)

    def _fit(self, seq: Seq, issues: IssueCounter) -> Seq | None:
        size = self.cfg.pack_size
        if len(seq[0]) <= size:
            return seq
        if self.cfg.overlong == "drop":
            issues.counts["overlong_dropped"] += 1
            return None
        issues.counts["overlong_truncated"] += 1
        ids, mask = seq[0][:size], seq[1][:size]
        if not mask.any():
            issues.counts["no_loss_after_truncation"] += 1
            return None
        return ids, mask

    def _write(self, per_split: dict[int, list[Seq]], out_dir: Path, shard: WorkShard,
               issues: IssueCounter) -> dict[str, Any]:
        files, tokens, seqs, bins, loss = [], Counter[str](), Counter[str](), Counter[str](), \
            Counter[str]()
        for s, items in per_split.items():
            if not items:
                continue
            lengths = np.asarray([len(t) for t, _ in items], dtype=np.int64)
            packed = pack_ffd(lengths, self.cfg.pack_size, seed=self.cfg.seed + shard.index)
            rel = f"{SPLITS[s]}/{shard.key}.parquet"
            write_packed_parquet(out_dir / rel, items, packed)
            files.append(rel)
            name = SPLITS[s]
            tokens[name] = int(lengths.sum())
            seqs[name] = len(items)
            bins[name] = len(packed)
            loss[name] = int(sum(int(m.sum()) for _, m in items))
        return {"output_files": files, "tokens": dict(tokens), "sequences": dict(seqs),
                "bins": dict(bins), "loss_tokens": dict(loss), "skipped": dict(issues.counts),
                "dataset": shard.dataset}
