"""Secret detection and masking: values of secret-looking keys never leave the process.

A key is secret when its last component contains `key`, `token`, `secret` or `password`
(case-insensitive), e.g. `api_key`, `WANDB_API_KEY`, `hf_token`, `db.password`. Keys that
merely contain these letters as part of a non-secret word (`keyboard`, `monkey`,
`tokenizer`, `max_tokens`) are spared: a masked tokenizer path would break reruns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["MASK", "is_secret_key", "mask_override", "mask_secrets"]

MASK = "***"

T = TypeVar("T")

# Secret words as whole name parts (split on `_`, `-`, `.`, camelCase), plus the common
# fused spellings (`apikey`, `authtoken`, `passwd`).
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Za-z][a-z0-9]*|[0-9]+")
_SECRET_WORDS = frozenset({"key", "keys", "token", "secret", "secrets", "password", "passwd"})
_FUSED = re.compile(r"(apikey|accesskey|secretkey|authtoken|accesstoken|password|passwd|secret)$")
# Words that contain a secret word but never hold a secret.
_NOT_SECRET = frozenset({"tokens", "tokenizer", "tokenizers", "keyword", "keywords"})


def is_secret_key(key: str) -> bool:
    """Say whether a config key (or env var) names a secret: `api_key`, `HF_TOKEN`, ..."""
    last = str(key).rsplit(".", 1)[-1]
    parts = [p.lower() for p in _PARTS.findall(last)]
    if not parts:
        return False
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return parts[-1] not in _NOT_SECRET and bool(_FUSED.search(parts[-1]))


def mask_secrets(obj: T) -> T:
    """Return a copy of `obj` (mappings and lists, nested) with secret keys' values masked.

    Mappings come back as dicts; `None` values stay `None` (nothing to hide).
    """
    return _mask(obj)  # type: ignore[no-any-return]


def _mask(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {
            k: (MASK if v is not None and is_secret_key(str(k)) else _mask(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(_mask(v) for v in obj)
    return obj


def mask_override(override: str) -> str:
    """Mask the value of an override whose key is secret: `wandb.api_key=abc` -> `...=***`."""
    key, sep, _ = override.partition("=")
    if sep and is_secret_key(key.lstrip("+~").split("@", 1)[0]):
        return f"{key}={MASK}"
    return override
