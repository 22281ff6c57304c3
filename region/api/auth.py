"""
OAuth 1.0a authentication of API requests, as MAAS clients sign them.

Clients sign with PLAINTEXT: ``oauth_signature`` is ``&`` + token secret
(the consumer secret is always empty).  The parameters may come in the
``Authorization`` header (with or without a realm) or in the query string or
an urlencoded body.  oauthlib verifies the request; this module feeds it the
token looked up beforehand (oauthlib's validator interface is synchronous,
our database is not), checks the timestamp against an injected clock (a
300 s window, as MAAS), and records the nonce in PostgreSQL only once the
signature is good, so a replay is refused and garbage cannot fill the table.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Protocol

import attrs
from oauthlib.oauth1 import RequestValidator, ResourceEndpoint
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import filter_oauth_params
from twisted.internet.interfaces import IReactorTime

from region.api.errors import Unauthorized
from region.db import nonces, tokens
from region.db.pool import Database
from region.db.tokens import Token
from region.db.users import User

#: How far a request's timestamp may be from our clock, in seconds (MAAS: 300).
TIMESTAMP_WINDOW = 300


class CredentialStore(Protocol):
    """Where the verifier finds tokens and records nonces."""

    async def lookup(self, token_key: str) -> tuple[Token, User] | None:
        """The token with that key and its user, or None."""

    async def use_nonce(self, token: Token, nonce: str, stamp: int) -> bool:
        """Record a nonce; False if it had been used already."""


class DatabaseCredentialStore:
    """Tokens and nonces in PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def lookup(self, token_key: str) -> tuple[Token, User] | None:
        return await self.db.transaction(lambda tx: tokens.get_with_user(tx, token_key))

    async def use_nonce(self, token: Token, nonce: str, stamp: int) -> bool:
        return await self.db.transaction(lambda tx: nonces.record(
            tx, token_key=token.token_key, consumer_key=token.consumer_key,
            nonce=nonce, stamp=stamp))


@attrs.frozen
class Credentials:
    """Who made an authenticated request, and with which token."""

    user: User
    token: Token


class _Validator(RequestValidator):  # type: ignore[misc]
    """oauthlib's questions, answered from one token fetched in advance."""

    enforce_ssl = False
    safe_characters = frozenset(string.ascii_letters + string.digits + "-_.~")
    # MAAS keys are 18 characters; clients' nonces run from 8 to 40 or so.
    client_key_length = (1, 128)
    access_token_length = (1, 128)
    nonce_length = (1, 255)
    # The timestamp window is checked against our own (injected) clock instead.
    timestamp_lifetime = 2**31
    allowed_signature_methods = ("PLAINTEXT",)
    dummy_client = "dummy-consumer"
    dummy_access_token = "dummy-token"  # noqa: S105 - a placeholder oauthlib requires

    def __init__(self, token: Token) -> None:
        super().__init__()
        self.token = token

    def check_nonce(self, nonce: str) -> bool:
        low, high = self.nonce_length
        return low <= len(nonce) <= high and set(nonce) <= self.safe_characters

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == self.token.consumer_key

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return token == self.token.token_key

    def validate_timestamp_and_nonce(self, *args: Any, **kwargs: Any) -> bool:
        return True  # nonces are recorded after the signature is verified

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return str(self.token.consumer_secret)

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        if token == self.token.token_key:
            return str(self.token.token_secret)
        return "dummy-secret-that-matches-nothing"


def _error(reason: str) -> Unauthorized:
    return Unauthorized(f"Authorization Error: {reason}")


class OAuthVerifier:
    """
    Decide who sent a request.

    :param store: finds tokens and records nonces.
    :param clock: the time against which timestamps are checked.
    """

    def __init__(self, store: CredentialStore, clock: IReactorTime,
                 window: int = TIMESTAMP_WINDOW) -> None:
        self.store = store
        self.clock = clock
        self.window = window

    @staticmethod
    def oauth_params(
        uri: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        """The oauth_* parameters of a request, wherever they were sent."""
        query = uri.split("?", 1)[1] if "?" in uri else ""
        found = oauth_signature.collect_parameters(
            uri_query=query, body=_form_body(headers, body), headers=dict(headers),
            exclude_oauth_signature=False, with_realm=False,
        )
        return dict(filter_oauth_params(found))

    async def authenticate(
        self, method: str, uri: str, headers: Mapping[str, str], body: bytes | None
    ) -> Credentials | None:
        """
        Verify the request's OAuth signature.

        :return: the credentials, or None when the request carries no OAuth
            parameters at all (an anonymous request).
        :raise Unauthorized: when OAuth parameters are present but not valid.
        """
        authorization = _header(headers, "Authorization")
        try:
            params = self.oauth_params(uri, headers, body)
        except ValueError as error:
            raise _error(f"Malformed OAuth parameters: {error}") from None
        if not params and not (authorization or "").lower().startswith("oauth"):
            return None
        token_key = params.get("oauth_token", "")
        if not token_key:
            raise _error("Missing mandatory OAuth parameters (oauth_token).")
        found = await self.store.lookup(token_key)
        if found is None:
            raise _error(f"'Invalid access token: {token_key}'")
        token, user = found
        endpoint = ResourceEndpoint(_Validator(token))
        valid, request = endpoint.validate_protected_resource_request(
            uri, http_method=method, body=_form_body(headers, body), headers=dict(headers),
        )
        if request is None or not request.validator_log:
            raise _error("Invalid OAuth request: missing or malformed oauth_* parameters "
                         "(PLAINTEXT signatures only).")
        if not request.validator_log.get("client"):
            raise _error("Invalid API key.")
        if not valid:
            raise _error("'Invalid signature.'")
        stamp = int(request.timestamp)
        now = int(self.clock.seconds())
        if abs(now - stamp) > self.window:
            raise _error(
                f"'Expired timestamp: given {stamp} and now {now} has a greater "
                f"difference than threshold {self.window}'"
            )
        if not await self.store.use_nonce(token, request.nonce, stamp):
            raise _error(f"'Nonce already used: {request.nonce}'")
        return Credentials(user, token)

    def oldest_useful_stamp(self) -> int:
        """Nonces with older timestamps can be forgotten: a replay would be refused anyway."""
        return int(self.clock.seconds()) - self.window - 1


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _form_body(headers: Mapping[str, str], body: bytes | None) -> str | None:
    """The body, if it is urlencoded (the only kind that may carry OAuth parameters)."""
    content_type = (_header(headers, "Content-Type") or "").lower()
    if body and content_type.startswith("application/x-www-form-urlencoded"):
        return body.decode("utf-8", errors="replace")
    return None
