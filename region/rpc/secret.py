"""
The shared RPC secret, kept in the database as hex text (config item
``rpc_shared_secret``, which the ``maas/`` API never shows).

``maas-region shared-secret`` and every region process at start-up call
:func:`shared_secret`; whichever runs first creates it.
"""

from __future__ import annotations

from region.db import config as db_config
from region.db.pool import Database, Tx
from rpc.auth import generate_secret, secret_from_text, secret_to_text

#: The config item holding the secret.
SECRET_ITEM = "rpc_shared_secret"  # noqa: S105 - a config item's name


class BadSecret(Exception):
    """The stored secret is unusable; the message says what to do (and shows no secret)."""


async def get_or_create(tx: Tx) -> bytes:
    """The shared secret, created (16 random bytes) if there is none yet."""
    stored = await db_config.set_default(tx, SECRET_ITEM, secret_to_text(generate_secret()))
    if not isinstance(stored, str):
        raise BadSecret(f"The stored {SECRET_ITEM} is not text; delete it to make a new one.")
    try:
        return secret_from_text(stored)
    except ValueError:
        raise BadSecret(f"The stored {SECRET_ITEM} is not valid hex; "
                        "delete it to make a new one.") from None


async def shared_secret(db: Database) -> bytes:
    """The shared secret, created on first use."""
    return await db.transaction(get_or_create)
