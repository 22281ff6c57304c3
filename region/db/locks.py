"""
Every PostgreSQL advisory lock the region takes, each with its own number.

Advisory locks guard only true singletons (one migration at a time, one
process writing DNS); contention over rows is settled with row locks
(``FOR UPDATE SKIP LOCKED``) or unique constraints, never with these.
"""

import enum


class Lock(enum.IntEnum):
    """Advisory lock identifiers; never renumber one that has shipped."""

    #: Held while ``maas-region migrate`` applies migrations.
    MIGRATE = 1
    #: Held by the region process that prunes expired OAuth nonces.
    NONCE_CLEANUP = 2
