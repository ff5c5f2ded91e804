"""Recognise secret names and scrub their values from text the kit prints or writes.

Secrets (W&B key, HF token) reach a job only through its 0600 secrets file; everything
else the kit produces (job scripts, dry runs, records, logs it echoes) goes through here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "is_secret_name", "redact_text"]

REDACTED = "<redacted>"
# Same rule as kit-config's secret keys: a name part that is key/token/secret/password.
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Za-z][a-z0-9]*|[0-9]+")
_SECRET_WORDS = frozenset({"key", "keys", "token", "secret", "secrets", "password", "passwd",
                           "apikey", "authtoken", "credentials"})


def is_secret_name(name: str) -> bool:
    """Say whether an environment variable or key names a secret (`WANDB_API_KEY`, ...)."""
    return any(p.lower() in _SECRET_WORDS for p in _PARTS.findall(name))


def redact_text(text: str, secret_values: Iterable[str]) -> str:
    """Replace every occurrence of each (non-trivial) secret value in `text`."""
    for value in sorted({v for v in secret_values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
