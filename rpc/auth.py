"""
The shared-secret handshake of MAAS 1.8, and the secret's file.

Each side proves to the other that it knows the shared secret, so the
handshake runs once in each direction on every connection:

1. the challenger calls ``Authenticate(message=<16 random bytes>)``;
2. the responder picks a 16-byte salt and answers
   ``digest = HMAC-SHA256(secret, message + salt)`` and the salt;
3. the challenger recomputes the digest over its own message and the
   returned salt and compares them with :func:`hmac.compare_digest`.

:func:`answer_challenge` is the responder's half, :func:`authenticate_peer`
the challenger's; the latter also drives the authentication gate of
:class:`rpc.protocol.RPCProtocol`.

Known limit of 1.8's scheme, kept for compatibility: nothing binds a digest
to a direction or a connection, so a peer that does not know the secret can
relay a challenge to another process that does (a reflection).  The secret
therefore only keeps out parties that cannot reach a genuine peer; use a
private network for RPC, as MAAS always advised.

The secret lives in a file as hex text (1.8: ``/var/lib/maas/secret``, mode
0640).  Daemons read it once at startup (:func:`read_secret`), never on each
handshake, and never log it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from twisted.internet.interfaces import IReactorTime

from rpc.commands.common import Authenticate
from rpc.errors import AuthenticationFailed

#: Length of the shared secret, of a challenge message and of a salt.
SECRET_BYTES = 16
MESSAGE_BYTES = 16
SALT_BYTES = 16
#: Length of an HMAC-SHA256 digest.
DIGEST_BYTES = hashlib.sha256().digest_size
#: Mode of the secret file: readable by the maas group, nobody else.
SECRET_FILE_MODE = 0o640


class Authenticatable(Protocol):
    """What authenticate_peer needs of a protocol (RPCProtocol has it)."""

    def callRemote(self, command: type[Authenticate], **kwargs: Any) -> Any: ...

    def authentication_started(self) -> None: ...

    def authentication_finished(self, authenticated: bool) -> None: ...


def calculate_digest(secret: bytes, message: bytes, salt: bytes) -> bytes:
    """HMAC-SHA256, keyed with secret, of message followed by salt (raw 32 bytes)."""
    return hmac.new(secret, message + salt, hashlib.sha256).digest()


def answer_challenge(
    secret: bytes, message: bytes, *, make_salt: Callable[[int], bytes] = secrets.token_bytes
) -> dict[str, bytes]:
    """The responder's answer to ``Authenticate(message)``: a fresh salt and the digest."""
    salt = make_salt(SALT_BYTES)
    return {"digest": calculate_digest(secret, message, salt), "salt": salt}


def verify_answer(secret: bytes, message: bytes, digest: bytes, salt: bytes) -> bool:
    """True if digest proves knowledge of secret for message and salt (constant time)."""
    if len(salt) != SALT_BYTES or len(digest) != DIGEST_BYTES:
        return False
    return hmac.compare_digest(digest, calculate_digest(secret, message, salt))


async def authenticate_peer(
    protocol: Authenticatable,
    secret: bytes,
    *,
    clock: IReactorTime | None = None,
    make_message: Callable[[int], bytes] = secrets.token_bytes,
) -> None:
    """
    Challenge the peer on protocol to prove it knows secret.

    The protocol's authentication gate holds the peer's commands while this
    runs, opens it on success and shuts it on failure.  With a clock the
    challenge is bounded by ``Authenticate.timeout``.  Raises
    AuthenticationFailed (the caller should drop the connection).
    """
    protocol.authentication_started()
    message = make_message(MESSAGE_BYTES)
    try:
        deferred = protocol.callRemote(Authenticate, message=message)
        if clock is not None:
            deferred.addTimeout(Authenticate.timeout, clock)
        answer = await deferred
    except Exception as error:
        protocol.authentication_finished(False)
        raise AuthenticationFailed(
            f"The peer did not answer the challenge: {type(error).__name__}: {error}"
        ) from error
    if not verify_answer(secret, message, answer["digest"], answer["salt"]):
        protocol.authentication_finished(False)
        raise AuthenticationFailed(
            "The peer's digest does not match: the shared secrets differ"
        )
    protocol.authentication_finished(True)


# -- The secret's file -------------------------------------------------------


def generate_secret() -> bytes:
    """A new random shared secret."""
    return secrets.token_bytes(SECRET_BYTES)


def secret_to_text(secret: bytes) -> str:
    """The secret as the file holds it: lower-case hex."""
    return secret.hex()


def secret_from_text(text: str) -> bytes:
    """Parse a secret written as hex (surrounding white space allowed)."""
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError("the shared secret is not valid hex") from None
    if not secret:
        raise ValueError("the shared secret is empty")
    return secret


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """Read the shared secret from its file (hex text)."""
    try:
        return secret_from_text(Path(path).read_text(encoding="ascii"))
    except UnicodeDecodeError:
        raise ValueError(f"the shared secret in {os.fspath(path)} is not hex text") from None
    except ValueError as error:
        raise ValueError(f"{error} (in {os.fspath(path)})") from None


def write_secret(path: str | os.PathLike[str], secret: bytes) -> None:
    """
    Write the shared secret to path as hex, mode 0640 whatever the umask.

    The file is written beside its final name and renamed into place, so a
    reader never sees half a secret.
    """
    if not secret:
        raise ValueError("refusing to write an empty shared secret")
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    try:
        os.fchmod(fd, SECRET_FILE_MODE)
        os.write(fd, (secret_to_text(secret) + "\n").encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(temporary, target)
