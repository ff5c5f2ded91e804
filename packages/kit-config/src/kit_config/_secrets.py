"""The kit's one secret policy: which keys are secret, and how their values are hidden.

A key is secret when its last component contains `key`, `token`, `secret` or `password`
(case-insensitive), e.g. `api_key`, `WANDB_API_KEY`, `hf_token`, `db.password`. Keys that
merely contain these letters as part of a non-secret word (`keyboard`, `monkey`,
`tokenizer`, `max_tokens`) are spared: a masked tokenizer path would break reruns.

Two layers, one mask: by key (`mask_secrets`, `mask_override`, `mask_argv`) and by value
(`scrub_text`, `scrub_secrets`: a known secret value is replaced wherever it appears, even
echoed back in someone else's error message). Values shorter than `MIN_SECRET_LEN` are not
scrubbed: they would garble text everywhere, and no real credential is that short.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "MIN_SECRET_LEN",
    "SECRET_MASK",
    "is_secret_key",
    "mask_argv",
    "mask_override",
    "mask_secrets",
    "scrub_secrets",
    "scrub_text",
    "secret_values",
]

SECRET_MASK = "***"
MIN_SECRET_LEN = 8

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
            k: (SECRET_MASK if v is not None and is_secret_key(str(k)) else _mask(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(_mask(v) for v in obj)
    return obj


def mask_override(override: str) -> str:
    """Mask the value of an override whose key is secret: `wandb.api_key=abc` -> `...=***`."""
    key, sep, _ = override.partition("=")
    if sep and is_secret_key(key.lstrip("+~").split("@", 1)[0]):
        return f"{key}={SECRET_MASK}"
    return override


def mask_argv(argv: Sequence[str]) -> list[str]:
    """Mask secrets in a command line: `k.token=V` overrides, `--api-key V`, `--token=V`."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(SECRET_MASK)
            hide_next = False
        elif arg.startswith("--") and "=" in arg:
            name, _, _ = arg.partition("=")
            out.append(f"{name}={SECRET_MASK}" if is_secret_key(name.lstrip("-")) else arg)
        elif arg.startswith("-") and len(arg) > 2 and is_secret_key(arg.lstrip("-")):
            out.append(arg)
            hide_next = True
        else:
            out.append(mask_override(arg))
    return out


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of secret environment variables worth scrubbing, longest first."""
    env = os.environ if environ is None else environ
    return _usable(v for k, v in env.items() if is_secret_key(k))


def _usable(values: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a secret that contains another is replaced whole.
    kept = {v for v in values if len(v) >= MIN_SECRET_LEN}
    return tuple(sorted(kept, key=len, reverse=True))


def scrub_text(text: str, values: Iterable[str] | None = None) -> str:
    """Replace every secret value inside `text` with the mask (default: the environment's)."""
    for value in secret_values() if values is None else _usable(values):
        text = text.replace(value, SECRET_MASK)
    return text


def scrub_secrets(obj: Any, values: Iterable[str] | None = None) -> Any:
    """A JSON-ready copy of `obj`: secret keys masked, secret values removed from strings.

    Mapping keys become strings and tuples become lists (what JSON would make of them).
    """
    vals = secret_values() if values is None else _usable(values)
    return _scrub(obj, vals)


def _scrub(obj: Any, vals: tuple[str, ...]) -> Any:
    if isinstance(obj, Mapping):
        return {
            str(k): (SECRET_MASK if v is not None and is_secret_key(str(k)) else _scrub(v, vals))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [_scrub(item, vals) for item in obj]
    if isinstance(obj, str):
        for value in vals:
            obj = obj.replace(value, SECRET_MASK)
        return obj
    return obj
