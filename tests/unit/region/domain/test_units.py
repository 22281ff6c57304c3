"""swap_size as people write it: bytes, or K/M/G/T in powers of 1000."""

from __future__ import annotations

import pytest

from region.domain.units import parse_swap_size


@pytest.mark.parametrize(("text", "size"), [
    ("0", 0),
    ("4096", 4096),
    ("5K", 5_000),
    ("5M", 5_000_000),
    ("2G", 2_000_000_000),
    ("5T", 5_000_000_000_000),
    ("0010M", 10_000_000),
])
def test_numbers_and_decimal_suffixes(text: str, size: int) -> None:
    """Suffixes multiply by 1000, not 1024, as 1.8 did (5T = 5000000000000)."""
    assert parse_swap_size(text) == size


@pytest.mark.parametrize("text", [
    "5E", "5k", "5 G", " 5", "5G ", "1.5G", "-5", "+5", "G", "", "5GB", "0x10", "\u0665",
    "9999999999T",
])
def test_other_text_is_refused_with_18_message(text: str) -> None:
    """Lower-case or unknown suffixes, signs, fractions, spaces, empty text and sizes
    beyond a bigint are refused: "Invalid size for swap: <text>"."""
    with pytest.raises(ValueError) as raised:
        parse_swap_size(text)
    assert str(raised.value) == f"Invalid size for swap: {text}"


def test_largest_bigint_is_accepted() -> None:
    """The largest value PostgreSQL's bigint holds is still a valid size."""
    assert parse_swap_size(str(2**63 - 1)) == 2**63 - 1
