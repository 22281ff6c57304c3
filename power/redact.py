"""
Keeping secrets out of logs, errors and non-admin API replies.

Which parameters are secret is decided by the settings' ``secret`` flag
(``power.schema``).  :func:`redact_params` replaces their values in a copy of
the parameters; :func:`scrub` removes the secret *values* from any text (a
tool's output, an exception message) before it is logged or raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: What a secret value is replaced with.
PLACEHOLDER = "********"


def redact_params(params: Mapping[str, Any], secret_names: Iterable[str]) -> dict[str, Any]:
    """A copy of params with every non-empty secret value replaced by PLACEHOLDER."""
    names = frozenset(secret_names)
    return {
        key: (PLACEHOLDER if key in names and value not in (None, "") else value)
        for key, value in params.items()
    }


def secret_values(params: Mapping[str, Any], secret_names: Iterable[str]) -> list[str]:
    """The non-empty secret values in params, longest first (so scrubbing is greedy)."""
    values = {str(params[name]) for name in secret_names if params.get(name) not in (None, "")}
    return sorted(values, key=len, reverse=True)


def scrub(text: str | bytes, secrets: Iterable[str]) -> str:
    """text (decoded leniently if bytes) with every occurrence of each secret replaced."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    for secret in secrets:
        if secret:
            text = text.replace(secret, PLACEHOLDER)
    return text
