"""Deterministic blended sampling of fixed-length token windows from indexed datasets.

Sample `k` of a run is a pure function of (blend, seq_length, seed, k): which dataset it comes
from is drawn once for all samples by the blend weights, and which window of that dataset by a
seeded per-epoch permutation. So a resumed run draws exactly the samples it would have drawn,
and each data-parallel rank takes its own slice of the same global sequence.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from nano3.formats import BlendEntry, FormatError, IndexedReader
from nano3.stages.errors import DataFormatError

__all__ = ["BlendedWindows"]


class BlendedWindows:
    """Windows of `seq_length + 1` tokens drawn by blend weight (inputs plus shifted labels)."""

    def __init__(self, entries: Sequence[BlendEntry], seq_length: int, seed: int,
                 num_samples: int, *, where: str) -> None:
        self.seq_length = seq_length
        self.seed = seed
        self.datasets: list[IndexedReader] = []
        weights: list[float] = []
        for e in entries:
            try:
                ds = IndexedReader(e.prefix)
            except FormatError as exc:
                raise DataFormatError.from_format(exc) from exc
            if (ds.num_tokens - 1) // seq_length < 1:
                print(f"warning: skipping {e.prefix}: {ds.num_tokens} tokens, fewer than "
                      f"seq_length+1={seq_length + 1}", file=sys.stderr)
                continue
            self.datasets.append(ds)
            weights.append(e.weight)
        if not self.datasets:
            raise DataFormatError(where, f"no dataset in the blend has more than seq_length="
                                  f"{seq_length} tokens", hint="lower model.seq_length")
        p = np.asarray(weights, dtype=np.float64)
        self.weights = p / p.sum()
        self.num_samples = num_samples
        rng = np.random.default_rng([seed, 0])
        self.dataset_index = rng.choice(len(self.datasets), size=num_samples, p=self.weights)
        # The n-th sample drawn from dataset d is that dataset's n-th window (in permuted order).
        self.sample_in_dataset = np.zeros(num_samples, dtype=np.int64)
        for d in range(len(self.datasets)):
            mask = self.dataset_index == d
            self.sample_in_dataset[mask] = np.arange(int(mask.sum()))
        self._perms: dict[tuple[int, int], npt.NDArray[np.int64]] = {}

    def num_windows(self, d: int) -> int:
        """Number of whole windows in dataset `d`."""
        return (self.datasets[d].num_tokens - 1) // self.seq_length

    def _window_start(self, d: int, n: int) -> int:
        windows = self.num_windows(d)
        epoch, pos = divmod(n, windows)
        key = (d, epoch)
        perm = self._perms.get(key)
        if perm is None:
            perm = np.random.default_rng([self.seed, 1, d, epoch]).permutation(windows)
            if len(self._perms) > 64:  # bound memory on long runs over many epochs
                self._perms.clear()
            self._perms[key] = perm
        return int(perm[pos]) * self.seq_length

    def sample(self, k: int) -> npt.NDArray[np.int64]:
        """Return global sample `k`: `seq_length + 1` token ids."""
        if not 0 <= k < self.num_samples:
            raise IndexError(f"sample {k} outside [0, {self.num_samples})")
        d = int(self.dataset_index[k])
        start = self._window_start(d, int(self.sample_in_dataset[k]))
        return self.datasets[d].window(start, self.seq_length + 1)

    def batch(self, first: int, size: int) -> npt.NDArray[np.int64]:
        """Return samples `first .. first+size-1` stacked as a (size, seq_length+1) array."""
        return np.stack([self.sample(k) for k in range(first, first + size)])
