"""MAC addresses in every form clients send, reduced to one canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from region.domain.macs import is_valid_mac, normalise_mac


@pytest.mark.parametrize(("given_text", "expected"), [
    ("00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e"),
    ("00:1A:2B:3C:4D:5E", "00:1a:2b:3c:4d:5e"),
    ("00-1a-2b-3c-4d-5e", "00:1a:2b:3c:4d:5e"),
    ("001a.2b3c.4d5e", "00:1a:2b:3c:4d:5e"),
    ("001A2B3C4D5E", "00:1a:2b:3c:4d:5e"),
    ("0:1a:2b:3c:4d:e", "00:1a:2b:3c:4d:0e"),
    ("  52:54:00:3a:91:0c\n", "52:54:00:3a:91:0c"),
])
def test_accepted_forms_become_lowercase_colon_form(given_text: str, expected: str) -> None:
    """Colon, hyphen, Cisco dotted and bare forms all normalise to aa:bb:cc:dd:ee:ff."""
    assert normalise_mac(given_text) == expected


@pytest.mark.parametrize("bad", [
    "", "00:1a:2b:3c:4d", "00:1a:2b:3c:4d:5e:6f", "00:1a-2b:3c:4d:5e", "00:1a:2b:3c:4d:5g",
    "001a.2b3c.4d5", "001a2b3c4d5", "001:1a:2b:3c:4d:5e", "00::1a:2b:3c:4d", "not a mac",
    "00:1a:2b:3c:4d:5e trailing", "\uff100:1a:2b:3c:4d:5e",  # a full-width digit
])
def test_anything_else_is_refused_with_18_message(bad: str) -> None:
    """Malformed input raises ValueError with 1.8's wording, quoting the input."""
    with pytest.raises(ValueError) as raised:
        normalise_mac(bad)
    assert str(raised.value) == f"'{bad}' is not a valid MAC address."
    assert not is_valid_mac(bad)


def test_non_string_is_refused() -> None:
    """A non-string (say, None from a missing parameter) is not a MAC either."""
    with pytest.raises(ValueError):
        normalise_mac(None)  # type: ignore[arg-type]


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ".", ""]), st.booleans())
def test_every_spelling_of_the_same_octets_normalises_identically(
        octets: bytes, separator: str, upper: bool) -> None:
    """Whatever the spelling, six octets give the same canonical text."""
    digits = octets.hex()
    if separator == ".":
        text = ".".join(digits[i:i + 4] for i in range(0, 12, 4))
    else:
        text = separator.join(digits[i:i + 2] for i in range(0, 12, 2))
    if upper:
        text = text.upper()
    assert normalise_mac(text) == ":".join(f"{octet:02x}" for octet in octets)
