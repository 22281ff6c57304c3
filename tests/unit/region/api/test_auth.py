"""OAuth 1.0a PLAINTEXT verification, with a fake clock and an in-memory store."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from region.api.auth import CredentialStore, DatabaseCredentialStore, OAuthVerifier
from region.api.errors import Unauthorized
from region.db.tokens import Token
from region.db.users import User
from tests.fakes.credentials import MemoryCredentialStore

NOW = 1_800_000_000
USER = User(id=7, username="alice", email="a@example.com", is_superuser=False,
            is_active=True, is_system=False)
TOKEN = Token(id=1, user_id=7, consumer_key="ConsumerKey1234567",
              consumer_secret="", token_key="TokenKey1234567890",
              token_secret="SecretSecretSecretSecretSecret12")


def header(*, token_key: str = TOKEN.token_key, consumer_key: str = TOKEN.consumer_key,
           secret: str = TOKEN.token_secret, stamp: int = NOW, nonce: str = "12345678",
           realm: str | None = "MAAS API", method: str = "PLAINTEXT") -> dict[str, str]:
    """An Authorization header written by hand, the way gomaasapi builds it."""
    fields = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_token", token_key),
        ("oauth_signature_method", method),
        ("oauth_signature", "%26" + secret),
        ("oauth_timestamp", str(stamp)),
        ("oauth_nonce", nonce),
        ("oauth_version", "1.0"),
    ]
    parts = ([f'realm="{realm}"'] if realm is not None else []) + [f'{k}="{v}"' for k, v in fields]
    return {"Authorization": "OAuth " + ", ".join(parts)}


class TestOAuthVerifier(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryCredentialStore()
        self.store.add(TOKEN, USER)
        self.verifier = OAuthVerifier(self.store, self.clock)

    def verify(self, headers: dict[str, str], uri: str = "http://localhost/MAAS/api/1.0/zones/",
               body: bytes | None = None, method: str = "GET") -> Deferred[Any]:
        return Deferred.fromCoroutine(self.verifier.authenticate(method, uri, headers, body))

    def refused(self, headers: dict[str, str], **kwargs: Any) -> str:
        failure = self.failureResultOf(self.verify(headers, **kwargs), Unauthorized)
        message: str = failure.value.message
        return message

    def test_good_header_authenticates(self) -> None:
        """A correctly signed header identifies the token's user."""
        credentials = self.successResultOf(self.verify(header()))
        self.assertEqual(credentials.user, USER)
        self.assertEqual(credentials.token, TOKEN)

    def test_header_without_realm(self) -> None:
        """The python MAAS client sends realm=""; others send none at all."""
        self.assertEqual(self.successResultOf(self.verify(header(realm=None))).user, USER)
        self.assertEqual(self.successResultOf(self.verify(header(realm="", nonce="2"))).user, USER)

    def test_no_oauth_at_all_is_anonymous(self) -> None:
        self.assertIsNone(self.successResultOf(self.verify({})))

    def test_parameters_in_the_query_string(self) -> None:
        """Some clients sign in the query string instead of the header."""
        query = (f"oauth_consumer_key={TOKEN.consumer_key}&oauth_token={TOKEN.token_key}"
                 f"&oauth_signature_method=PLAINTEXT&oauth_signature=%26{TOKEN.token_secret}"
                 f"&oauth_timestamp={NOW}&oauth_nonce=99&op=list")
        credentials = self.successResultOf(
            self.verify({}, uri=f"http://localhost/MAAS/api/1.0/nodes/?{query}"))
        self.assertEqual(credentials.user, USER)

    def test_parameters_in_an_urlencoded_body(self) -> None:
        body = (f"oauth_consumer_key={TOKEN.consumer_key}&oauth_token={TOKEN.token_key}"
                f"&oauth_signature_method=PLAINTEXT&oauth_signature=%26{TOKEN.token_secret}"
                f"&oauth_timestamp={NOW}&oauth_nonce=77&name=x").encode()
        credentials = self.successResultOf(self.verify(
            {"Content-Type": "application/x-www-form-urlencoded"}, body=body, method="POST"))
        self.assertEqual(credentials.user, USER)

    def test_wrong_secret_is_refused(self) -> None:
        self.assertIn("Invalid signature", self.refused(header(secret="not-the-secret")))

    def test_unknown_token_is_refused_and_named(self) -> None:
        message = self.refused(header(token_key="NoSuchToken"))
        self.assertEqual(message, "Authorization Error: 'Invalid access token: NoSuchToken'")

    def test_wrong_consumer_is_an_invalid_api_key(self) -> None:
        self.assertEqual(self.refused(header(consumer_key="SomeoneElse")),
                         "Authorization Error: Invalid API key.")

    def test_hmac_signatures_are_refused(self) -> None:
        """Only PLAINTEXT is accepted, as MAAS."""
        self.assertTrue(self.refused(header(method="HMAC-SHA1")).startswith("Authorization Error"))

    def test_timestamp_window_is_300_seconds_each_way(self) -> None:
        """Timestamps up to 300 s from our clock pass; 301 s is refused."""
        self.successResultOf(self.verify(header(stamp=NOW - 300, nonce="a")))
        self.successResultOf(self.verify(header(stamp=NOW + 300, nonce="b")))
        self.assertIn("Expired timestamp", self.refused(header(stamp=NOW - 301, nonce="c")))
        self.assertIn("Expired timestamp", self.refused(header(stamp=NOW + 301, nonce="d")))

    def test_timestamp_follows_the_injected_clock(self) -> None:
        """A request valid now is stale once the clock has moved on."""
        self.clock.advance(1000)
        self.assertIn("Expired timestamp", self.refused(header(nonce="late")))

    def test_replayed_nonce_is_refused(self) -> None:
        self.successResultOf(self.verify(header(nonce="once")))
        self.assertEqual(self.refused(header(nonce="once")),
                         "Authorization Error: 'Nonce already used: once'")

    def test_failed_requests_do_not_burn_nonces(self) -> None:
        """A bad signature does not record its nonce (so garbage cannot fill the table)."""
        self.refused(header(secret="bad", nonce="keep"))
        self.successResultOf(self.verify(header(nonce="keep")))

    def test_missing_token_is_refused(self) -> None:
        bare = {"Authorization": 'OAuth oauth_consumer_key="x", oauth_signature_method="PLAINTEXT"'}
        self.assertIn("oauth_token", self.refused(bare))

    def test_oldest_useful_stamp_follows_the_window(self) -> None:
        self.assertEqual(self.verifier.oldest_useful_stamp(), NOW - 301)


class TestStoresAgree(SynchronousTestCase):
    def test_memory_store_has_the_database_store_methods(self) -> None:
        """The fake offers exactly the protocol's coroutine methods (it cannot drift)."""
        for name in ("lookup", "use_nonce"):
            self.assertTrue(hasattr(CredentialStore, name))
            self.assertTrue(hasattr(DatabaseCredentialStore, name))
            self.assertTrue(hasattr(MemoryCredentialStore, name))
