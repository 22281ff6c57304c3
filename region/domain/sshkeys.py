"""
OpenSSH public keys, as users paste them from their ``~/.ssh/*.pub`` files.

A key is one line, ``<type> <base64 blob> [comment]``.  The blob is a
sequence of length-prefixed strings whose first is the key type again; the
rest depends on the type (RSA: exponent and modulus; Ed25519: 32 bytes of
public key; ...).  :func:`parse_ssh_public_key` checks all of that, without
cryptography libraries, and returns the key in a normal form.  Private keys,
PEM blocks, ``authorized_keys`` options and truncated blobs are refused with a
message saying why.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Callable

import attrs

#: Longer than any real public key (a 16384-bit RSA key is about 2.8 KB).
MAX_LENGTH = 16384

_COMMENT_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class InvalidSSHKey(ValueError):
    """The text is not an OpenSSH public key; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid SSH public key: {reason}.")
        self.reason = reason


@attrs.frozen
class SSHPublicKey:
    """A validated public key: its type, its decoded blob and its comment."""

    key_type: str
    blob: bytes
    comment: str

    @property
    def text(self) -> str:
        """The key as one ``type base64 [comment]`` line with single spaces."""
        encoded = base64.b64encode(self.blob).decode("ascii")
        line = f"{self.key_type} {encoded}"
        return f"{line} {self.comment}" if self.comment else line


class _Reader:
    """Reads the SSH wire encoding (RFC 4251 §5) of a key blob."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def string(self, what: str) -> bytes:
        if len(self.data) - self.offset < 4:
            raise InvalidSSHKey(f"the key data is truncated (no {what})")
        (length,) = struct.unpack_from(">I", self.data, self.offset)
        start = self.offset + 4
        if length > len(self.data) - start:
            raise InvalidSSHKey(f"the key data is truncated (in its {what})")
        self.offset = start + length
        return self.data[start:self.offset]

    def positive_mpint(self, what: str) -> bytes:
        value = self.string(what)
        if not value or value[0] & 0x80 or value == b"\x00":
            raise InvalidSSHKey(f"its {what} is not a positive integer")
        if len(value) > 1 and value[0] == 0 and not value[1] & 0x80:
            raise InvalidSSHKey(f"its {what} is not a minimal integer encoding")
        return value

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise InvalidSSHKey("the key data has unexpected bytes at its end")


def _rsa(reader: _Reader) -> None:
    reader.positive_mpint("RSA exponent")
    reader.positive_mpint("RSA modulus")


def _dss(reader: _Reader) -> None:
    for part in ("DSA p", "DSA q", "DSA g", "DSA y"):
        reader.positive_mpint(part)


def _ed25519(reader: _Reader) -> None:
    if len(reader.string("Ed25519 public key")) != 32:
        raise InvalidSSHKey("its Ed25519 public key is not 32 bytes long")


def _ecdsa(curve: str, coordinate_size: int) -> Callable[[_Reader], None]:
    def check(reader: _Reader) -> None:
        name = reader.string("curve name")
        if name != curve.encode("ascii"):
            raise InvalidSSHKey(f"its curve is not {curve}")
        point = reader.string("EC point")
        uncompressed = point[:1] == b"\x04" and len(point) == 1 + 2 * coordinate_size
        compressed = point[:1] in (b"\x02", b"\x03") and len(point) == 1 + coordinate_size
        if not (uncompressed or compressed):
            raise InvalidSSHKey(f"its EC point is not a {curve} point")

    return check


def _security_key(check_key: Callable[[_Reader], None]) -> Callable[[_Reader], None]:
    """FIDO keys (``sk-*``): the plain key, then the application string."""

    def check(reader: _Reader) -> None:
        check_key(reader)
        if not reader.string("security key application"):
            raise InvalidSSHKey("its security key application is empty")

    return check


#: The public key types OpenSSH accepts, with the check of each one's blob.
KEY_TYPES: dict[str, Callable[[_Reader], None]] = {
    "ssh-rsa": _rsa,
    "ssh-dss": _dss,
    "ecdsa-sha2-nistp256": _ecdsa("nistp256", 32),
    "ecdsa-sha2-nistp384": _ecdsa("nistp384", 48),
    "ecdsa-sha2-nistp521": _ecdsa("nistp521", 66),
    "ssh-ed25519": _ed25519,
    "sk-ecdsa-sha2-nistp256@openssh.com": _security_key(_ecdsa("nistp256", 32)),
    "sk-ssh-ed25519@openssh.com": _security_key(_ed25519),
}


def _describe(word: str) -> str:
    shown = word if len(word) <= 40 else word[:40] + "..."
    return repr(shown)


def parse_ssh_public_key(text: str) -> SSHPublicKey:
    """
    Validate text as one OpenSSH public key line and return it parsed.

    :raise InvalidSSHKey: with the reason, when text is anything else.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidSSHKey("the key is empty")
    if len(stripped) > MAX_LENGTH:
        raise InvalidSSHKey(f"the key is longer than {MAX_LENGTH} characters")
    if "PRIVATE KEY" in stripped:
        raise InvalidSSHKey("this is a private key; give the public key (the .pub file)")
    if stripped.startswith("-----BEGIN") or stripped.startswith("---- BEGIN"):
        raise InvalidSSHKey("give the key in OpenSSH format (one 'type base64 comment' line)")
    if "\n" in stripped or "\r" in stripped:
        raise InvalidSSHKey("give exactly one key, on one line")
    fields = stripped.split(None, 2)
    key_type = fields[0]
    check = KEY_TYPES.get(key_type)
    if check is None:
        if any(field in KEY_TYPES for field in stripped.split()[1:]):
            raise InvalidSSHKey("authorized_keys options are not accepted; give the key alone")
        raise InvalidSSHKey(f"unknown key type {_describe(key_type)}")
    if len(fields) < 2:
        raise InvalidSSHKey("the key data is missing")
    try:
        blob = base64.b64decode(fields[1].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidSSHKey("the key data is not valid base64") from None
    reader = _Reader(blob)
    embedded = reader.string("key type")
    if embedded != key_type.encode("ascii"):
        raise InvalidSSHKey(f"the key data is not a {key_type} key")
    check(reader)
    reader.finish()
    comment = fields[2].strip() if len(fields) == 3 else ""
    if _COMMENT_FORBIDDEN.search(comment):
        raise InvalidSSHKey("the comment contains control characters")
    return SSHPublicKey(key_type, blob, comment)
