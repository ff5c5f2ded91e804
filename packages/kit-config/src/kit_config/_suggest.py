"""Did-you-mean suggestions for misspelled names: the kit's one rule.

A candidate is suggested when difflib rates it at least `CUTOFF` alike, else when it
differs only in case, else when one contains the other (`loss` -> `final_loss`; both at
least 3 characters, so `a` does not match everything).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["CUTOFF", "closest", "did_you_mean"]

CUTOFF = 0.6


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to `name`, or None when none is close."""
    pool = sorted({str(c) for c in candidates})
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=CUTOFF)
    if matches:
        return matches[0]
    lowered = name.lower()
    for candidate in pool:
        if candidate.lower() == lowered:
            return candidate
    if len(lowered) >= 3:
        for candidate in pool:
            low = candidate.lower()
            if len(low) >= 3 and (lowered in low or low in lowered):
                return candidate
    return None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ` (did you mean 'x'?)` for the closest candidate, or ""."""
    best = closest(name, candidates)
    return f" (did you mean {best!r}?)" if best else ""
