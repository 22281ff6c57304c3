"""SQL for OAuth nonces: each may be used once while its timestamp is fresh."""

from __future__ import annotations

from region.db.pool import Tx

RECORD = """
    INSERT INTO nonces (token_key, consumer_key, nonce, stamp)
    VALUES (%(token_key)s, %(consumer_key)s, %(nonce)s, %(stamp)s)
    ON CONFLICT DO NOTHING
"""
PRUNE = "DELETE FROM nonces WHERE stamp < %(oldest)s"


async def record(tx: Tx, *, token_key: str, consumer_key: str, nonce: str, stamp: int) -> bool:
    """Record a nonce; False if it had been used already (a replay)."""
    inserted = await tx.execute(RECORD, {
        "token_key": token_key, "consumer_key": consumer_key, "nonce": nonce, "stamp": stamp,
    })
    return inserted == 1


async def prune(tx: Tx, oldest: int) -> int:
    """Forget nonces whose timestamps are older than oldest; a replay would be stale anyway."""
    return await tx.execute(PRUNE, {"oldest": oldest})
