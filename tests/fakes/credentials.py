"""An in-memory CredentialStore, for unit tests of OAuth verification."""

from __future__ import annotations

from region.db.tokens import Token
from region.db.users import User


class MemoryCredentialStore:
    """Holds tokens and used nonces in dictionaries; same contract as the database store."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[Token, User]] = {}
        self.nonces: set[tuple[str, str, str]] = set()

    def add(self, token: Token, user: User) -> None:
        self.tokens[token.token_key] = (token, user)

    async def lookup(self, token_key: str) -> tuple[Token, User] | None:
        return self.tokens.get(token_key)

    async def use_nonce(self, token: Token, nonce: str, stamp: int) -> bool:
        key = (token.token_key, token.consumer_key, nonce)
        if key in self.nonces:
            return False
        self.nonces.add(key)
        return True
