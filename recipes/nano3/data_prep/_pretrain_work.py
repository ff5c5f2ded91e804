"""Pretrain shard work (text -> Megatron bin/idx per split) and the merge into blend.json."""
from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nano3.data_prep._config import SPLITS, PretrainDataConfig, parse_split
from nano3.data_prep._inputs import InputFile, IssueCounter, WorkShard, iter_record_batches
from nano3.data_prep._runner import ProgressSink
from nano3.data_prep.errors import TokenizerError
from nano3.formats import BLEND_FILENAME, IndexedWriter, Tokenizer, token_dtype, write_blend

__all__ = ["PretrainShardProcessor", "encode_checked", "encode_flat_checked", "merge_pretrain",
           "split_draws"]


def split_draws(rng: np.random.Generator, n: int, fractions: Sequence[float],
                sample: float | None) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per-record split index (0 train, 1 valid, 2 test) and sample mask, from one rng."""
    u = rng.random((n, 2))
    edges = np.cumsum(fractions)[:-1]
    split = np.searchsorted(edges, u[:, 1], side="right")
    keep = u[:, 0] < sample if sample is not None else np.ones(n, dtype=bool)
    return split, keep


def encode_checked(tok: Tokenizer, texts: list[str], positions: list[int], file: InputFile,
                   issues: IssueCounter) -> tuple[list[npt.NDArray[Any]], list[int]]:
    """Encode a batch; on failure find the record(s) that fail (file:line) via the policy.

    Returns the encodings and the indices (into `texts`) they belong to.
    """
    try:
        return tok.encode_batch(texts), list(range(len(texts)))
    except Exception:  # find the culprit: encode one by one (rare path)
        return _encode_each(tok, texts, positions, file, issues)


def _encode_each(tok: Tokenizer, texts: list[str], positions: list[int], file: InputFile,
                 issues: IssueCounter) -> tuple[list[npt.NDArray[Any]], list[int]]:
    encs, kept = [], []
    for i, text in enumerate(texts):
        try:
            encs.append(tok.encode_batch([text])[0])
            kept.append(i)
        except Exception as exc:
            issues.report("encode_error", file=file, pos=positions[i],
                          detail=f"tokenizer {tok.uri!r} cannot encode the text: {exc}")
    return encs, kept


def encode_flat_checked(tok: Tokenizer, texts: list[str], positions: list[int],
                        file: InputFile, issues: IssueCounter, eod: int | None
                        ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], list[int] | None]:
    """`tok.encode_flat` of a batch, and the indices of the texts it holds: None when all
    of them; on failure each failing text is found (file:line) and handled by the policy."""
    try:
        return (*tok.encode_flat(texts, eod), None)
    except Exception:  # rare path: find the culprits, then encode the others again
        _, kept = _encode_each(tok, texts, positions, file, issues)
    return (*tok.encode_flat([texts[i] for i in kept], eod), kept)


class PretrainShardProcessor:
    """Tokenizes one shard into up to three bin/idx files (`SPLIT/KEY`), one per split."""

    def __init__(self, cfg: PretrainDataConfig, tokenizer: Tokenizer) -> None:
        self.cfg = cfg
        self.tok = tokenizer
        self.dtype = np.dtype(token_dtype(tokenizer.vocab_size))

    def process(self, shard: WorkShard, out_dir: Path, sink: ProgressSink) -> dict[str, Any]:
        """Write `out_dir/SPLIT/KEY.{bin,idx}`; returns tokens/docs per split and skips."""
        cfg, ds = self.cfg, self.cfg.blend[shard.dataset_index]
        fractions = parse_split(ds.split)
        rng = np.random.default_rng([cfg.seed, shard.dataset_index, shard.file_index,
                                     shard.start])
        issues = IssueCounter(cfg.errors.policy)
        eod = self.tok.eod_id if cfg.append_eod else None
        writers: dict[int, IndexedWriter] = {}
        tokens, docs = Counter[str](), Counter[str]()
        try:
            for batch in iter_record_batches(shard, [ds.text_field], cfg.batch_docs, issues):
                texts, positions = self._texts(batch.records, batch.positions, ds.text_field,
                                               shard.file, issues)
                split, keep = split_draws(rng, len(texts), fractions, cfg.sample.fraction)
                if not keep.all():
                    sel = np.flatnonzero(keep)
                    texts, positions, split = ([texts[i] for i in sel],
                                               [positions[i] for i in sel], split[sel])
                flat, lengths, kept = encode_flat_checked(self.tok, texts, positions,
                                                          shard.file, issues, eod)
                if kept is not None:
                    split = split[kept]
                ntok = self._write(flat, lengths, split, writers, out_dir, shard.key, tokens,
                                   docs)
                sink.advance(batch.nbytes, ntok)
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        for w in writers.values():
            w.close()
        files = [f"{SPLITS[s]}/{shard.key}.{ext}" for s in sorted(writers)
                 for ext in ("bin", "idx")]
        return {"output_files": files, "tokens": dict(tokens), "docs": dict(docs),
                "skipped": dict(issues.counts), "dataset": shard.dataset}

    @staticmethod
    def _texts(records: list[dict[str, Any]], positions: list[int], field: str,
               file: InputFile, issues: IssueCounter) -> tuple[list[str], list[int]]:
        texts = list(map(operator.itemgetter(field), records))
        # The usual batch, checked by C-level calls: all strings, none empty or blank.
        if set(map(type, texts)) <= {str} and all(texts) and not any(map(str.isspace, texts)):
            return texts, positions
        kept, pos = [], []
        for text, p in zip(texts, positions, strict=True):
            if not isinstance(text, str):
                issues.report("bad_field_type", file=file, pos=p,
                              detail=f"field {field!r} is a {type(text).__name__}, not a string")
                continue
            if not text or text.isspace():  # Megatron drops empty documents: counted
                issues.counts["empty_text"] += 1
                continue
            kept.append(text)
            pos.append(p)
        return kept, pos

    def _write(self, flat: npt.NDArray[Any], lengths: npt.NDArray[np.int64],
               split_of: npt.NDArray[np.intp], writers: dict[int, IndexedWriter],
               out_dir: Path, key: str, tokens: Counter[str], docs: Counter[str]) -> int:
        if not lengths.size:
            return 0
        tok = self.tok
        if flat.size and (flat.max() >= tok.vocab_size or flat.min() < 0):  # before the cast
            raise TokenizerError(tok.uri, f"produced id {int(flat.max())} outside "
                                 f"its vocabulary of {tok.vocab_size}")
        flat = flat.astype(self.dtype, copy=False)
        splits = [int(split_of[0])] if (split_of == split_of[0]).all() else range(3)
        for s in splits:
            if len(splits) == 1:
                part, part_len = flat, lengths
            else:
                mine = split_of == s
                if not mine.any():
                    continue
                part, part_len = flat[np.repeat(mine, lengths)], lengths[mine]
            if s not in writers:
                (out_dir / SPLITS[s]).mkdir(parents=True, exist_ok=True)
                writers[s] = IndexedWriter(out_dir / SPLITS[s] / key, self.dtype)
            writers[s].add_batch(part, part_len)
            tokens[SPLITS[s]] += int(part.size)
            docs[SPLITS[s]] += len(part_len)
        return int(flat.size)


def merge_pretrain(cfg: PretrainDataConfig, out_dir: Path, shards: Sequence[WorkShard],
                   receipts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Write `blend.json` (flat Megatron-Bridge form) and return the totals.

    A shard's weight is its dataset's weight times its share of the dataset's tokens in
    that split, so Megatron's normalised blend mixes datasets by their configured weights.
    Splits with no data are `null` (Megatron's parser crashes on `[]`).
    """
    per_ds_tokens: Counter[tuple[str, int]] = Counter()
    for shard, r in zip(shards, receipts, strict=True):
        for split, n in r["tokens"].items():
            per_ds_tokens[(split, shard.dataset_index)] += n
    pairs: dict[str, list[tuple[float, str]] | None] = {}
    for split in SPLITS:
        items: list[tuple[float, str]] = []
        for shard, r in zip(shards, receipts, strict=True):
            n = r["tokens"].get(split, 0)
            if n:
                di = shard.dataset_index
                weight = cfg.blend[di].weight * n / per_ds_tokens[(split, di)]
                items.append((weight, str(out_dir / split / shard.key)))
        pairs[split] = items or None
    blend = write_blend(out_dir / BLEND_FILENAME, pairs)
    skipped: Counter[str] = Counter()
    for r in receipts:
        skipped.update(r["skipped"])
    split_tokens = {s: sum(r["tokens"].get(s, 0) for r in receipts) for s in SPLITS}
    docs_by_ds: Counter[int] = Counter()
    for shard, r in zip(shards, receipts, strict=True):
        docs_by_ds[shard.dataset_index] += sum(r["docs"].values())
    return {
        "blend": blend,
        "split_tokens": split_tokens,
        "total_tokens": sum(split_tokens.values()),
        "total_sequences": sum(sum(r["docs"].values()) for r in receipts),
        "num_shards": sum(len(v) // 2 for v in blend.values() if v),
        "skipped": dict(sorted(skipped.items())),
        "docs_by_dataset": [docs_by_ds[i] for i in range(len(cfg.blend))],
    }
