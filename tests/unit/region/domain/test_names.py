"""Random adjective-noun host names, and spotting names derived from IP addresses."""

from __future__ import annotations

import random
import re

import pytest

from region.domain.names import ADJECTIVES, NOUNS, is_ip_derived, random_hostname

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize(("words", "kind"), [(ADJECTIVES, "adjectives"), (NOUNS, "nouns")])
def test_word_lists_are_large_unique_and_lowercase_ascii(words: tuple[str, ...], kind: str) -> None:
    """Each list has at least 300 distinct words of lower-case ASCII letters only."""
    assert len(words) >= 300, kind
    assert len(set(words)) == len(words), kind
    assert all(re.fullmatch(r"[a-z]+", word) for word in words), kind


def test_no_word_is_both_adjective_and_noun() -> None:
    """Keeps names like "olive-olive" impossible."""
    assert set(ADJECTIVES).isdisjoint(NOUNS)


def test_every_possible_name_is_a_dns_label() -> None:
    """The longest adjective with the longest noun still fits in one DNS label."""
    longest = f"{max(ADJECTIVES, key=len)}-{max(NOUNS, key=len)}"
    assert DNS_LABEL.match(longest)
    assert len(longest) <= 63


def test_names_are_adjective_dash_noun() -> None:
    """A name is one adjective, a dash and one noun, and is a valid DNS label."""
    rng = random.Random(2015)
    for _ in range(500):
        name = random_hostname(rng)
        adjective, noun = name.split("-")
        assert adjective in ADJECTIVES and noun in NOUNS
        assert DNS_LABEL.match(name)
        assert not is_ip_derived(name)


def test_same_seed_same_names() -> None:
    """Names depend only on the injected generator, so tests can predict them."""
    first = [random_hostname(random.Random(7)) for _ in range(3)]
    second = [random_hostname(random.Random(7)) for _ in range(3)]
    assert first == second


def test_names_spread_over_both_lists() -> None:
    """Many draws use many different words of each list (no fixed or tiny choice)."""
    rng = random.Random(1)
    names = [random_hostname(rng).split("-") for _ in range(3000)]
    assert len({a for a, _ in names}) > 250
    assert len({n for _, n in names}) > 250


@pytest.mark.parametrize(("hostname", "derived"), [
    ("10-0-0-23", True),
    ("192-168-100-254", True),
    ("10-0-0-23.maas", True),
    ("192-168-1-20-web", True),  # 1.8 anchored the pattern at the start only
    ("1-2-3-4", True),
    ("1234-2-3-4", False),
    ("10-0-0", False),
    ("web-10-0-0-23", False),
    ("keen-otter", False),
    ("", False),
    ("node10.maas", False),
])
def test_ip_derived_hostnames(hostname: str, derived: bool) -> None:
    """§5.1: names starting with four dash-separated 1-3 digit groups are IP-derived."""
    assert is_ip_derived(hostname) is derived
