"""Seeded first-fit-decreasing packing of sequences into bins of `capacity` tokens.

`pack_ffd` gives exactly the bins of the plain first-fit loop (`pack_ffd_reference`) over
the same order, but places each run of equal-length sequences at once: while equal items
are placed, the leftmost bin that fits stays the leftmost until it cannot take another, and
a bin that could not take one never can later (bins only fill). So a run of k items of
length L fills the open bins in index order, `remaining // L` items each, then opens new
bins of `capacity // L` items: numpy work per distinct length instead of a Python scan of
all bins per sequence.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ffd_order", "pack_ffd", "pack_ffd_reference"]

IntArray = npt.NDArray[np.int64]


def ffd_order(lengths: npt.ArrayLike, seed: int) -> IntArray:
    """Longest first; equal lengths in a seeded random order (deterministic per seed)."""
    lens = np.asarray(lengths, dtype=np.int64)
    tie = np.random.default_rng(seed).permutation(len(lens))
    return np.lexsort((tie, -lens)).astype(np.int64)


def _check(lens: IntArray, capacity: int) -> None:
    if capacity <= 0:
        raise ValueError(f"capacity must be positive, got {capacity}")
    if len(lens) and (lens.max() > capacity or lens.min() <= 0):
        raise ValueError(f"sequence lengths must be in [1, {capacity}], got "
                         f"[{int(lens.min())}, {int(lens.max())}]")


def pack_ffd(lengths: npt.ArrayLike, capacity: int, seed: int) -> list[IntArray]:
    """Bins as arrays of sequence indices, each in placement order."""
    lens = np.asarray(lengths, dtype=np.int64)
    _check(lens, capacity)
    n = len(lens)
    if n == 0:
        return []
    order = ffd_order(lens, seed)
    sorted_len = lens[order]
    bounds = np.flatnonzero(np.diff(sorted_len)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))
    remaining = np.zeros(n, dtype=np.int64)
    nbins = 0
    lo = 0  # bins before `lo` cannot take even the shortest sequence: never scanned again
    shortest = int(sorted_len[-1])
    bin_of = np.empty(n, dtype=np.int64)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        size, k = int(sorted_len[s]), e - s
        while lo < nbins and remaining[lo] < shortest:
            lo += 1
        fits = remaining[lo:nbins] // size
        cand = np.flatnonzero(fits) + lo
        placed: list[IntArray] = []
        if len(cand):
            counts = fits[cand - lo]
            before = np.cumsum(counts) - counts
            used = np.clip(k - before, 0, counts)
            remaining[cand] -= used * size
            placed.append(np.repeat(cand, used))
        left = k - int(sum(len(p) for p in placed))
        if left > 0:
            per_bin = capacity // size
            new = nbins + np.arange(left, dtype=np.int64) // per_bin
            nnew = int(new[-1]) - nbins + 1
            filled = np.bincount(new - nbins, minlength=nnew)
            remaining[nbins:nbins + nnew] = capacity - filled * size
            nbins += nnew
            placed.append(new)
        bin_of[s:e] = np.concatenate(placed) if len(placed) > 1 else placed[0]
    by_bin = np.argsort(bin_of, kind="stable")
    splits = np.cumsum(np.bincount(bin_of, minlength=nbins))[:-1]
    return [order[idx] for idx in np.split(by_bin, splits)]


def pack_ffd_reference(lengths: Sequence[int] | npt.NDArray[Any], capacity: int,
                       seed: int) -> list[list[int]]:
    """The plain Python first-fit loop over the same order (the baseline and the oracle)."""
    lens = np.asarray(lengths, dtype=np.int64)
    _check(lens, capacity)
    bins: list[list[int]] = []
    remaining: list[int] = []
    for i in ffd_order(lens, seed).tolist():
        size = int(lens[i])
        for b, room in enumerate(remaining):
            if room >= size:
                bins[b].append(i)
                remaining[b] -= size
                break
        else:
            bins.append([i])
            remaining.append(capacity - size)
    return bins
