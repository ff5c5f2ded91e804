"""Did-you-mean suggestions for misspelled names: the kit's one rule (see `closest`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["CUTOFF", "closest", "did_you_mean"]

CUTOFF = 0.6


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate at least `CUTOFF` alike (difflib), else equal but for case, else one
    containing the other (`loss` -> `final_loss`; 3+ characters); None when none is close."""
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
