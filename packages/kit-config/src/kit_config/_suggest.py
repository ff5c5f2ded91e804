"""Did-you-mean suggestions for misspelled keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to `name`, or None when none is close."""
    pool = [str(c) for c in candidates]
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.7)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in pool}
    return lowered.get(name.lower())


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ` (did you mean 'x'?)` for the closest candidate, or ""."""
    best = closest(name, candidates)
    return f" (did you mean {best!r}?)" if best else ""
