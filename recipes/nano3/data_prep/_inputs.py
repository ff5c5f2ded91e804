"""Inputs: resolve a blend's datasets to files, cut them into shards, stream their records.

Paths may be local (with globs), `corpus://NAME` (the tiny corpus in this repo), `s3://...`
or any fsspec URL, and `hf://datasets/ORG/NAME/...` through huggingface_hub's filesystem.
A JSONL shard is a byte range of one file: a line belongs to the shard its first byte lies
in, so shards are independent, resumable units whose content does not depend on how many
processes run. A Parquet shard is a run of row groups. Records stream in batches; nothing
reads a whole file into memory.
"""
from __future__ import annotations

import glob as globlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from nano3.data_prep._config import DatasetSpec
from nano3.data_prep.errors import EmptyInputError, InputNotFoundError, InputRecordError

__all__ = [
    "CORPUS_DIR",
    "InputFile",
    "IssueCounter",
    "RecordBatch",
    "WorkShard",
    "iter_line_blocks",
    "iter_record_batches",
    "plan_shards",
    "resolve_dataset_files",
]

#: The tiny corpus shipped in the repo, addressed as `corpus://FILE` in configs.
CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
_GLOB_CHARS = set("*?[")
_FINGERPRINT_BYTES = 1 << 16
# About one batch of documents: a block's parsed records stay alive until its last batch is
# tokenized, and HF's encode runs slower beside more live Python objects (HF, 4 MiB blocks:
# 0.92 of the raw tokenizer's speed at 50 MB; 1 MiB: 0.98, five paired rounds).
_READ_BLOCK = 1 << 20


@attrs.frozen
class InputFile:
    """One input file: URL, size, a cheap content fingerprint, and its format."""

    url: str
    size: int
    fingerprint: str
    format: str


@attrs.frozen
class WorkShard:
    """A unit of work: a byte range (JSONL) or row-group range (Parquet) of one file."""

    index: int
    key: str
    dataset_index: int
    dataset: str
    file_index: int
    file: InputFile
    start: int
    end: int


def _fs_and_path(url: str) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def _with_protocol(fs: Any, path: str) -> str:
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if proto in ("file", "local"):
        return str(Path(path).resolve())
    return f"{proto}://{path}"


def _open(url: str) -> Any:
    """A binary file object for an `InputFile.url`: a local path opens with `open` (no
    fsspec import, ~0.1 s of every local run), anything else through fsspec."""
    if "://" not in url:
        return open(url, "rb")  # noqa: SIM115 (the caller's `with` closes it)
    fs, path = _fs_and_path(url)
    return fs.open(path, "rb")


def _fingerprint(url: str, size: int) -> str:
    import xxhash

    h = xxhash.xxh64(str(size).encode())
    with _open(url) as f:
        h.update(f.read(_FINGERPRINT_BYTES))
        if size > _FINGERPRINT_BYTES:
            f.seek(max(size - _FINGERPRINT_BYTES, _FINGERPRINT_BYTES))
            h.update(f.read())
    return h.hexdigest()


def _format_of(ds: DatasetSpec, url: str) -> str:
    if ds.format != "auto":
        return ds.format
    return "parquet" if url.endswith((".parquet", ".pq")) else "jsonl"


def resolve_dataset_files(ds: DatasetSpec) -> list[InputFile]:
    """The sorted files a dataset's path or glob names; none is an `InputNotFoundError`."""
    pattern = ds.path
    if pattern.startswith("corpus://"):
        pattern = str(CORPUS_DIR / pattern.removeprefix("corpus://"))
    if "://" in pattern:
        try:
            fs, path = _fs_and_path(pattern)
        except (ImportError, ValueError) as exc:  # unknown protocol, or its package missing
            raise InputNotFoundError(ds.name, ds.path,
                                     reason=f"cannot be opened ({exc})") from exc
        names = sorted(fs.glob(path)) if _GLOB_CHARS & set(path) else [path]
        found = [(_with_protocol(fs, n), int(fs.size(n))) for n in names if fs.isfile(n)]
    else:
        local = str(Path(pattern).expanduser())
        # glob.glob takes absolute patterns with ** directly; Path.glob needs an anchor.
        names = sorted(globlib.glob(local, recursive=True)) if _GLOB_CHARS & set(local) \
            else [local]  # noqa: PTH207
        found = [(str(Path(n).resolve()), Path(n).stat().st_size)
                 for n in names if Path(n).is_file()]
    if not found:
        raise InputNotFoundError(ds.name, ds.path)
    return [InputFile(url=url, size=size, format=_format_of(ds, url),
                      fingerprint=_fingerprint(url, size) if size else "empty")
            for url, size in found]


def _parquet_ranges(file: InputFile, shard_bytes: int) -> list[tuple[int, int]]:
    import pyarrow.parquet as pq

    with _open(file.url) as f:
        meta = pq.ParquetFile(f).metadata
    ranges: list[tuple[int, int]] = []
    start, acc = 0, 0
    for rg in range(meta.num_row_groups):
        acc += meta.row_group(rg).total_byte_size
        if acc >= shard_bytes:
            ranges.append((start, rg + 1))
            start, acc = rg + 1, 0
    if start < meta.num_row_groups:
        ranges.append((start, meta.num_row_groups))
    return ranges


def plan_shards(blend: Sequence[DatasetSpec], files: Sequence[Sequence[InputFile]],
                shard_bytes: int) -> list[WorkShard]:
    """Cut every file into shards of at most `shard_bytes` (a JSONL file into equal byte
    ranges); shard keys are `DATASET_NNNNNN` in a stable order."""
    shards: list[WorkShard] = []
    for di, (ds, ds_files) in enumerate(zip(blend, files, strict=True)):
        n = 0
        for fi, f in enumerate(ds_files):
            if f.format == "parquet":
                ranges = _parquet_ranges(f, shard_bytes) if f.size else [(0, 0)]
            else:  # ceil(size / shard_bytes) equal byte ranges: no sliver of a last shard
                count = max(-(-f.size // shard_bytes), 1)  # for workers to wait on at the end
                ranges = list(itertools.pairwise(f.size * i // count for i in range(count + 1)))
            for start, end in ranges:
                shards.append(WorkShard(index=len(shards), key=f"{ds.name}_{n:06d}",
                                        dataset_index=di, dataset=ds.name, file_index=fi,
                                        file=f, start=start, end=end))
                n += 1
    return shards


class IssueCounter:
    """Applies the error policy: `fail` raises with file and line; `skip` counts by reason."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()

    def report(self, reason: str, *, file: InputFile, pos: int, detail: str) -> None:
        """Record one bad record at byte offset (JSONL) or row (Parquet) `pos`."""
        if self.policy == "skip":
            self.counts[reason] += 1
            return
        line = _line_number(file, pos)
        raise InputRecordError(reason, file=file.url, line=line, detail=detail)


def _line_number(file: InputFile, pos: int) -> int:
    if file.format == "parquet":
        return pos + 1
    count = 0
    with _open(file.url) as f:  # only on failure: count newlines before the offset
        left = pos
        while left > 0:
            block = f.read(min(left, 1 << 22))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count + 1


@attrs.define
class RecordBatch:
    """Parsed records of one batch, each with its position, and the input bytes consumed."""

    positions: list[int]
    records: list[dict[str, Any]]
    nbytes: int


def _parse_line(line: bytes, pos: int, file: InputFile, fields: Sequence[str],
                issues: IssueCounter, loads: Callable[[bytes], Any]) -> dict[str, Any] | None:
    try:
        obj = loads(line)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as uexc:
            issues.report("invalid_utf8", file=file, pos=pos,
                          detail=f"line is not valid UTF-8 ({uexc.reason} at byte {uexc.start})")
            return None
        issues.report("invalid_json", file=file, pos=pos, detail=f"invalid JSON: {exc}")
        return None
    if not isinstance(obj, dict):
        issues.report("invalid_json", file=file, pos=pos,
                      detail=f"record is a JSON {type(obj).__name__}, not an object")
        return None
    for field in fields:
        if field not in obj:
            keys = ", ".join(sorted(obj)[:8])
            issues.report("missing_field", file=file, pos=pos,
                          detail=f"record has no field {field!r} (fields: {keys})")
            return None
    return obj


def iter_line_blocks(f: Any, start: int, end: int, block: int = _READ_BLOCK
                     ) -> Iterator[tuple[int, list[bytes]]]:
    """The lines of `f` whose first byte is in [start, end), without their newlines, one
    list per block read, each with the byte offset of its first line: the line straddling
    `start` belongs to the previous range, the one straddling `end` to this one.

    Reads blocks of at most `block` bytes and splits them in C (one `bytes.split` per block
    instead of one `readline` call per line); memory is one block plus one line.
    """
    if start > 0:
        f.seek(start - 1)
        start += len(f.readline()) - 1
    pos = off = start
    carry = b""
    while off < end:
        data = f.read(min(block, end - off))
        if not data:
            break
        off += len(data)
        if off >= end and not data.endswith(b"\n"):
            data += f.readline()  # finish the line that straddles `end`
        lines = data.split(b"\n")
        lines[0] = carry + lines[0]  # not `carry + data`: a copy of the whole block
        carry = lines.pop()  # a partial line (b"" when `data` ends with a newline)
        if lines:
            yield pos, lines
            pos += sum(map(len, lines)) + len(lines)
    if carry:  # the file's last line, without a newline
        yield pos, [carry]


def _parse_block(lines: list[bytes], offsets: list[int], file: InputFile,
                 fields: Sequence[str], issues: IssueCounter, loads: Callable[[bytes], Any]
                 ) -> tuple[list[dict[str, Any]], Sequence[int]]:
    """Records of a block's lines and the index of each one's line (blank and bad lines
    left out); `offsets[k]` is where line k starts.

    The usual block (every line a JSON object with the fields) is parsed and checked by
    C-level `map` calls; a block with any other line takes the per-line path, which applies
    the error policy to each bad line.
    """
    try:
        objs = list(map(loads, lines))
    except ValueError:  # orjson.JSONDecodeError: a blank or bad line in this block
        pass
    else:
        if set(map(type, objs)) <= {dict} and all(
                all(map(dict.__contains__, objs, itertools.repeat(f))) for f in fields):
            return objs, range(len(objs))
    records, kept = [], []
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        obj = _parse_line(line, offsets[k], file, fields, issues, loads)
        if obj is not None:
            records.append(obj)
            kept.append(k)
    return records, kept


def _iter_jsonl(shard: WorkShard, fields: Sequence[str], batch_docs: int,
                issues: IssueCounter) -> Iterator[RecordBatch]:
    import orjson

    loads, file = orjson.loads, shard.file
    with _open(file.url) as f:
        # `consumed`/`stop`: the bytes of the lines this shard owns, reported batch by batch
        # (their sum over all shards is the file size). The last line may lack its newline.
        batch, consumed, stop = RecordBatch([], [], 0), -1, -1
        for pos, lines in iter_line_blocks(f, shard.start, shard.end, _READ_BLOCK):
            if consumed < 0:
                consumed = pos
            # offsets[k]: where line k starts; offsets[k + 1]: where the line after it does
            offsets = list(itertools.accumulate(map((1).__add__, map(len, lines)), initial=pos))
            records, kept = _parse_block(lines, offsets, file, fields, issues, loads)
            i = 0
            while i < len(records):
                take = min(batch_docs - len(batch.records), len(records) - i)
                batch.records += records[i:i + take]
                batch.positions += [offsets[k] for k in kept[i:i + take]]
                i += take
                if len(batch.records) >= batch_docs:
                    stop = min(offsets[kept[i - 1] + 1], file.size)
                    batch.nbytes, consumed = stop - consumed, stop
                    yield batch
                    batch = RecordBatch([], [], 0)
            stop = min(offsets[-1], file.size)
        batch.nbytes = max(stop - consumed, 0)
        if batch.records or batch.nbytes:
            yield batch


def _iter_parquet(shard: WorkShard, fields: Sequence[str], batch_docs: int,
                  issues: IssueCounter) -> Iterator[RecordBatch]:
    import pyarrow.parquet as pq

    with _open(shard.file.url) as f:
        pf = pq.ParquetFile(f)
        missing = [c for c in fields if c not in pf.schema_arrow.names]
        if missing:  # a missing column affects every row: always an error, never a skip
            raise InputRecordError("missing_field", file=shard.file.url, line=1,
                                   detail=f"Parquet file has no column {missing[0]!r}")
        rows_before = sum(pf.metadata.row_group(i).num_rows for i in range(shard.start))
        per_row = shard.file.size / max(pf.metadata.num_rows, 1)
        row = rows_before
        for rb in pf.iter_batches(batch_size=batch_docs, row_groups=range(shard.start, shard.end),
                                  columns=list(fields)):
            records = rb.to_pylist()
            yield RecordBatch(list(range(row, row + len(records))), records,
                              int(per_row * len(records)))
            row += len(records)


def iter_record_batches(shard: WorkShard, fields: Sequence[str], batch_docs: int,
                        issues: IssueCounter) -> Iterator[RecordBatch]:
    """Stream a shard's records (dicts holding at least `fields`) in batches."""
    if shard.file.size == 0:
        if issues.policy != "skip":
            raise EmptyInputError(shard.dataset, shard.file.url)
        issues.counts["empty_file"] += 1
        return
    if shard.file.format == "parquet":
        yield from _iter_parquet(shard, fields, batch_docs, issues)
    else:
        yield from _iter_jsonl(shard, fields, batch_docs, issues)
