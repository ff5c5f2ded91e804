"""Recognise secret names and scrub their values from text the kit prints or writes.

Secrets (W&B key, HF token) reach a job only through its 0600 secrets file; everything
else the kit produces (job scripts, dry runs, records, logs it echoes) goes through here.
"""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["REDACTED", "redact_text"]

REDACTED = "<redacted>"
# Which names are secret is kit-config's rule (`kit_config.is_secret_key`), shared by the
# whole kit so that a key masked in a saved config is also kept out of job environments.


def redact_text(text: str, secret_values: Iterable[str]) -> str:
    """Replace every occurrence of each (non-trivial) secret value in `text`."""
    for value in sorted({v for v in secret_values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
