"""
API keys: the OAuth consumer and token MAAS hands to a user, node or cluster.

A key is written ``consumer_key:token_key:token_secret``; the consumer
secret is always empty, so a PLAINTEXT signature is ``&`` + token_secret.
Keys are 18 characters and secrets 32, as piston generated them.
"""

from __future__ import annotations

import secrets
import string

import attrs

KEY_SIZE = 18
SECRET_SIZE = 32
_ALPHABET = string.ascii_letters + string.digits


def random_code(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@attrs.frozen
class NewCredentials:
    consumer_key: str
    token_key: str
    token_secret: str

    @classmethod
    def generate(cls) -> NewCredentials:
        return cls(random_code(KEY_SIZE), random_code(KEY_SIZE), random_code(SECRET_SIZE))


def format_api_key(consumer_key: str, token_key: str, token_secret: str) -> str:
    return f"{consumer_key}:{token_key}:{token_secret}"


def parse_api_key(key: str) -> tuple[str, str, str]:
    """Split an API key into its three parts, or raise ValueError."""
    parts = key.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError("An API key has three parts: consumer_key:token_key:token_secret")
    return parts[0], parts[1], parts[2]
