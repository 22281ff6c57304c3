"""
"SSL keys": X.509 certificates a user keeps in MAAS, in PEM form.

Despite the name, MAAS 1.8 stores certificates (it loads each one with
OpenSSL's certificate reader).  :func:`parse_ssl_key` accepts text made of one
or more ``-----BEGIN CERTIFICATE-----`` blocks and nothing else but
whitespace; each block must be base64 whose bytes decode, with nothing left
over, as an RFC 5280 ``Certificate``.  Private keys, other PEM blocks, stray
text and broken DER are refused.  Decoding is pure Python (pyasn1) and bounded
by :data:`MAX_LENGTH`, so it is cheap enough to run in the reactor.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs
from pyasn1.codec.der import decoder
from pyasn1.error import PyAsn1Error
from pyasn1_modules import rfc5280

#: Room for a chain of a dozen ordinary certificates.
MAX_LENGTH = 32768
#: How many certificates one key may hold.
MAX_CERTIFICATES = 16

_BEGIN = re.compile(r"-----BEGIN ([^-]*)-----")
_END = re.compile(r"-----END ([^-]*)-----")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")


class InvalidSSLKey(ValueError):
    """The text is not a PEM certificate; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid SSL key: {reason}.")
        self.reason = reason


@attrs.frozen
class SSLKey:
    """Validated PEM text and the DER of each certificate in it."""

    text: str
    certificates: tuple[bytes, ...]


def _decode_certificate(der: bytes, position: int) -> None:
    try:
        _, rest = decoder.decode(der, asn1Spec=rfc5280.Certificate())
    except (PyAsn1Error, ValueError, TypeError, IndexError, OverflowError, RecursionError):
        # pyasn1 reports most malformed input as PyAsn1Error, but not all of it.
        raise InvalidSSLKey(f"certificate {position} is not a valid X.509 certificate") from None
    if rest:
        raise InvalidSSLKey(f"certificate {position} has unexpected bytes after it")


def _read_blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split PEM text into (label, base64 lines) blocks; nothing else may appear."""
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for raw in lines:
        line = raw.strip()
        if current is None:
            if not line:
                continue
            begin = _BEGIN.fullmatch(line)
            if begin is None:
                raise InvalidSSLKey("there is text outside the PEM block(s)"
                                    if blocks else
                                    "no PEM certificate found (-----BEGIN CERTIFICATE-----)")
            current = (begin.group(1), [])
            continue
        end = _END.fullmatch(line)
        if end is not None:
            if end.group(1) != current[0]:
                raise InvalidSSLKey("a PEM block ends with a different label than it begins")
            blocks.append(current)
            current = None
        elif line and not _BASE64_LINE.fullmatch(line):
            raise InvalidSSLKey("a PEM block is not base64 (PEM headers are not allowed)")
        else:
            current[1].append(line)
    if current is not None:
        raise InvalidSSLKey("a PEM block has no -----END line")
    return blocks


def parse_ssl_key(text: str) -> SSLKey:
    """
    Validate text as PEM certificate(s) and return it normalised (LF line ends, stripped).

    :raise InvalidSSLKey: with the reason, when text is anything else.
    """
    normal = text.replace("\r\n", "\n").strip()
    if not normal:
        raise InvalidSSLKey("the key is empty")
    if len(normal) > MAX_LENGTH:
        raise InvalidSSLKey(f"the key is longer than {MAX_LENGTH} characters")
    if "PRIVATE KEY-----" in normal:
        raise InvalidSSLKey("this contains a private key; give only the certificate")
    blocks = _read_blocks(normal.split("\n"))
    if len(blocks) > MAX_CERTIFICATES:
        raise InvalidSSLKey(f"give at most {MAX_CERTIFICATES} certificates")
    certificates: list[bytes] = []
    for label, body in blocks:
        if label != "CERTIFICATE":
            raise InvalidSSLKey(f"a {label!r} block is not a certificate")
        try:
            der = base64.b64decode("".join(body), validate=True)
        except binascii.Error:
            raise InvalidSSLKey("a certificate block is not valid base64") from None
        if not der:
            raise InvalidSSLKey("a certificate block is empty")
        certificates.append(der)
    for number, der in enumerate(certificates, start=1):
        _decode_certificate(der, number)
    return SSLKey(normal, tuple(certificates))
