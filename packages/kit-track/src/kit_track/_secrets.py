"""Keep secrets out of everything a run writes: configs, argv, error messages.

Two layers: values under secret-looking keys are masked (kit-config's key rule), and any
string that contains the value of a secret environment variable (`WANDB_API_KEY`,
`HF_TOKEN`, ...) has it replaced, which also catches keys passed as CLI overrides or
echoed back in a backend's error message.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# One key rule for the whole kit (kit-config's): `api_key`, `HF_TOKEN`, `db.password`
# are secret, `tokenizer` and `max_tokens` are not.
from kit_config import is_secret_key

__all__ = ["MASK", "is_secret_key", "scrub", "scrub_text", "secret_values"]

MASK = "***"

# Short values would cause false replacements all over the record.
_MIN_SECRET_LEN = 8


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of secret environment variables, longest first."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_key(k) and len(v) >= _MIN_SECRET_LEN}
    return tuple(sorted(values, key=len, reverse=True))


def scrub_text(text: str, values: tuple[str, ...] | None = None) -> str:
    """Replace every secret environment value inside `text` with the mask."""
    for value in secret_values() if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def scrub(obj: Any, values: tuple[str, ...] | None = None) -> Any:
    """Return a copy of a JSON-like object with secret keys masked and secret values removed."""
    vals = secret_values() if values is None else values
    if isinstance(obj, Mapping):
        return {
            str(k): (MASK if is_secret_key(str(k)) and v is not None else scrub(v, vals))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [scrub(item, vals) for item in obj]
    if isinstance(obj, str):
        return scrub_text(obj, vals)
    return obj
