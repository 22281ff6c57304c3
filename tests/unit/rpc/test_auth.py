"""The shared-secret HMAC handshake, and the secret's file."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from rpc.auth import (
    SECRET_FILE_MODE,
    answer_challenge,
    authenticate_peer,
    calculate_digest,
    generate_secret,
    read_secret,
    secret_from_text,
    verify_answer,
    write_secret,
)
from rpc.commands.common import Authenticate
from rpc.errors import AuthenticationFailed
from rpc.protocol import AuthState, RPCProtocol
from rpc.testing import authenticated_pair, call_responder, connect_pair

SECRET = bytes.fromhex("00112233445566778899aabbccddeeff")
OTHER = bytes.fromhex("ffeeddccbbaa99887766554433221100")


class TestDigest(SynchronousTestCase):
    def test_digest_is_hmac_sha256_of_message_then_salt(self) -> None:
        """The digest is 1.8's: HMAC-SHA256(secret, message + salt), raw bytes."""
        message, salt = b"m" * 16, b"s" * 16
        expected = hmac.new(SECRET, message + salt, hashlib.sha256).digest()
        self.assertEqual(calculate_digest(SECRET, message, salt), expected)

    def test_answer_uses_a_fresh_16_byte_salt(self) -> None:
        """The responder picks the salt; two answers to one message differ."""
        first, second = answer_challenge(SECRET, b"m" * 16), answer_challenge(SECRET, b"m" * 16)
        self.assertEqual(len(first["salt"]), 16)
        self.assertNotEqual(first["salt"], second["salt"])
        self.assertTrue(verify_answer(SECRET, b"m" * 16, first["digest"], first["salt"]))

    def test_verification_rejects_other_secret_message_and_malformed_answers(self) -> None:
        """A digest from another secret, for another message, or malformed, fails verification."""
        answer = answer_challenge(OTHER, b"m" * 16)
        self.assertFalse(verify_answer(SECRET, b"m" * 16, answer["digest"], answer["salt"]))
        good = answer_challenge(SECRET, b"m" * 16)
        self.assertFalse(verify_answer(SECRET, b"n" * 16, good["digest"], good["salt"]))
        self.assertFalse(verify_answer(SECRET, b"m" * 16, good["digest"][:16], good["salt"]))
        empty_salt = calculate_digest(SECRET, b"m" * 16, b"")
        self.assertFalse(verify_answer(SECRET, b"m" * 16, empty_salt, b""))

    def test_protocol_answers_authenticate_over_the_wire_format(self) -> None:
        """RPCProtocol's own Authenticate responder answers with the HMAC."""
        protocol = RPCProtocol(ident="x", secret=SECRET, name="h:pid=1")
        d = call_responder(protocol, Authenticate, {"message": b"m" * 16})
        answer = self.successResultOf(d)
        self.assertTrue(verify_answer(SECRET, b"m" * 16, answer["digest"], answer["salt"]))


def region() -> RPCProtocol:
    return RPCProtocol(ident="region:pid=1", secret=SECRET, name="region:pid=1")


def cluster(secret: bytes = SECRET) -> Any:
    return lambda: RPCProtocol(ident="c0ffee", secret=secret, name="cluster:pid=2")


class TestHandshake(SynchronousTestCase):
    def challenge(self, challenger: RPCProtocol, pump: Any, **kwargs: Any) -> Deferred[None]:
        d = Deferred.fromCoroutine(authenticate_peer(challenger, SECRET, **kwargs))
        pump.flush()
        return d

    def test_same_secret_succeeds_both_ways(self) -> None:
        """Region and cluster each authenticate the other when they share the secret."""
        client, server, pump = connect_pair(region, cluster())
        self.successResultOf(self.challenge(server, pump))
        self.successResultOf(self.challenge(client, pump))
        self.assertTrue(server.peer_authenticated)
        self.assertTrue(client.peer_authenticated)

    def test_region_refuses_a_cluster_with_another_secret(self) -> None:
        """The region's challenge fails against a cluster holding a different secret."""
        _client, server, pump = connect_pair(region, cluster(OTHER))
        failure = self.failureResultOf(self.challenge(server, pump), AuthenticationFailed)
        self.assertIn("secrets differ", str(failure.value))
        self.assertIs(server.auth_state, AuthState.FAILED)
        self.assertNotIn(SECRET.hex(), str(failure.value))

    def test_cluster_refuses_a_region_with_another_secret(self) -> None:
        """The other direction: the cluster's challenge fails against a wrong region."""
        client, _server, pump = connect_pair(region, cluster(OTHER))
        d = Deferred.fromCoroutine(authenticate_peer(client, OTHER))
        pump.flush()
        self.failureResultOf(d, AuthenticationFailed)
        self.assertFalse(client.peer_authenticated)

    def test_unanswered_challenge_times_out_and_fails(self) -> None:
        """With a clock the challenge is bounded by Authenticate.timeout."""
        clock = Clock()
        _client, server, pump = connect_pair(region, cluster(), clock=Clock())
        d = Deferred.fromCoroutine(authenticate_peer(server, SECRET, clock=clock))
        clock.advance(Authenticate.timeout - 1)
        self.assertNoResult(d)
        clock.advance(1)
        failure = self.failureResultOf(d, AuthenticationFailed)
        self.assertIsInstance(failure.value.__cause__, TimeoutError)
        self.assertIs(server.auth_state, AuthState.FAILED)
        pump.flush()  # the late answer is ignored

    def test_authenticated_pair_helper(self) -> None:
        """authenticated_pair runs both challenges, and complains when they fail."""
        client, server, _ = authenticated_pair(region, cluster(), SECRET)
        self.assertTrue(client.peer_authenticated and server.peer_authenticated)
        self.assertRaises(AssertionError, authenticated_pair, region, cluster(OTHER), SECRET)


class TestSecretFile(SynchronousTestCase):
    def setUp(self) -> None:
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        self.directory = Path(temporary.name)

    def test_write_then_read(self) -> None:
        """The secret is stored as hex text, mode 0640, and read back unchanged."""
        path = self.directory / "secret"
        secret = generate_secret()
        old_umask = os.umask(0o077)
        self.addCleanup(os.umask, old_umask)
        write_secret(path, secret)
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), SECRET_FILE_MODE)
        self.assertEqual(path.read_text(), secret.hex() + "\n")
        self.assertEqual(read_secret(path), secret)
        self.assertEqual(len(secret), 16)

    def test_write_replaces_an_existing_secret(self) -> None:
        """Writing again replaces the secret and leaves no temporary file behind."""
        path = self.directory / "secret"
        write_secret(path, SECRET)
        write_secret(path, OTHER)
        self.assertEqual(read_secret(path), OTHER)
        self.assertEqual([p.name for p in self.directory.iterdir()], ["secret"])

    def test_bad_files_are_refused_without_echoing_them(self) -> None:
        """Empty, non-hex or binary files are errors that name the file, not its content."""
        path = self.directory / "secret"
        for content in (b"", b"  \n", b"not hex at all", b"\xff\xfe"):
            path.write_bytes(content)
            error = self.assertRaises(ValueError, read_secret, path)
            self.assertIn(str(path), str(error))
            self.assertNotIn("not hex at all", str(error))
        self.assertEqual(secret_from_text(" 00ff\n"), b"\x00\xff")
        self.assertRaises(ValueError, write_secret, path, b"")
