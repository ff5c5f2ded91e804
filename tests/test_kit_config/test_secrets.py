"""Secret detection and masking."""

from __future__ import annotations

import pytest

from kit_config import is_secret_key, mask_argv, mask_override, mask_secrets


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "WANDB_API_KEY",
        "hf_token",
        "db.password",
        "client_secret",
        "apiKey",
        "passwd",
        "key",
        "ssh_keys",
        "accessToken",
        "AWS_SECRET_ACCESS_KEY",
        "secrets",
    ],
)
def test_secret_keys(key: str) -> None:
    """Keys naming keys, tokens, secrets and passwords are secret."""
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "tokenizer",
        "max_tokens",
        "total_tokens",
        "keyboard",
        "monkey",
        "lr",
        "name",
        "tokenizer_uri",
    ],
)
def test_not_secret_keys(key: str) -> None:
    """Words that merely contain a secret word (tokenizer, total_tokens) are not secret."""
    assert not is_secret_key(key)


def test_mask_secrets_nested() -> None:
    """Secret values are masked at any depth; None stays None; the input is not changed."""
    data = {"wandb": {"api_key": "k", "project": "p"}, "list": [{"token": "t"}], "password": None}
    masked = mask_secrets(data)
    assert masked == {
        "wandb": {"api_key": "***", "project": "p"},
        "list": [{"token": "***"}],
        "password": None,
    }
    assert data["wandb"]["api_key"] == "k"  # type: ignore[call-overload,index]


def test_mask_override_and_argv() -> None:
    """Overrides and command lines hide secret values in every spelling."""
    assert mask_override("++wandb.api_key=abc") == "++wandb.api_key=***"
    assert mask_override("train.lr=1") == "train.lr=1"
    assert mask_argv(["--token", "abc", "--password=x", "hf_token=y", "a=1"]) == [
        "--token",
        "***",
        "--password=***",
        "hf_token=***",
        "a=1",
    ]
