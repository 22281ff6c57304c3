"""
MAC addresses as MAAS 1.8 accepts them from clients and commissioning scripts.

Every MAC the region stores or compares is in one canonical form: six
lower-case, two-digit hexadecimal octets joined by colons
(``00:1a:2b:3c:4d:5e``), which is also how PostgreSQL prints ``macaddr``.
Clients write MACs in several ways; :func:`normalise_mac` accepts:

* colon or hyphen separated octets (``00:1A:2B:3C:4D:5E``, ``00-1a-2b-3c-4d-5e``),
  where an octet may drop its leading zero (``0:1a:2b:3c:4d:5e``, as BSD ``arp``
  prints them), but the separator must be the same throughout;
* Cisco's dotted form, three groups of four digits (``001a.2b3c.4d5e``);
* twelve bare hexadecimal digits (``001A2B3C4D5E``).

Surrounding whitespace is ignored.  Anything else is refused with 1.8's
message, ``'<text>' is not a valid MAC address.``
"""

from __future__ import annotations

import re

_OCTETS = re.compile(
    r"(?P<o>[0-9a-f]{1,2})(?P<sep>[:-])"
    r"(?P<rest>[0-9a-f]{1,2}(?P=sep)[0-9a-f]{1,2}(?P=sep)[0-9a-f]{1,2}"
    r"(?P=sep)[0-9a-f]{1,2}(?P=sep)[0-9a-f]{1,2})"
)
_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")
_BARE = re.compile(r"[0-9a-f]{12}")


def normalise_mac(text: str) -> str:
    """The canonical ``aa:bb:cc:dd:ee:ff`` form of a MAC written in any accepted form.

    :raises ValueError: ``'<text>' is not a valid MAC address.``
    """
    candidate = text.strip().lower() if isinstance(text, str) else ""
    match = _OCTETS.fullmatch(candidate)
    if match is not None:
        octets = candidate.split(match["sep"])
        return ":".join(octet.rjust(2, "0") for octet in octets)
    if _DOTTED.fullmatch(candidate) or _BARE.fullmatch(candidate):
        digits = candidate.replace(".", "")
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    raise ValueError(f"'{text}' is not a valid MAC address.")


def is_valid_mac(text: str) -> bool:
    """True when :func:`normalise_mac` accepts text."""
    try:
        normalise_mac(text)
    except ValueError:
        return False
    return True
