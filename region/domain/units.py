"""
Sizes written by people: the ``swap_size`` a client may give a node.

MAAS 1.8 (``NodeForm.clean_swap_size``) accepts a plain number of bytes or
a whole number followed by one of the decimal suffixes ``K``, ``M``, ``G``
and ``T`` (powers of 1000, not 1024: ``5G`` is 5,000,000,000 bytes), and
refuses anything else with ``Invalid size for swap: <text>``.

We are a little stricter than 1.8, which let Python's ``int()`` decide:
1.8 took ``-5`` (a negative swap size) and `` 5`` and crashed with a 500 on
``1.5G``; here the text must be digits with an optional upper-case suffix,
and every other input is the same ``ValueError``.  An empty string is also
refused: 1.8 treated ``swap_size=`` as "no swap size" (``None``), and the
caller is expected to check for that before calling :func:`parse_swap_size`.
"""

from __future__ import annotations

import re

#: Multipliers of the suffixes 1.8 understood (decimal, as in 1.8).
SUFFIXES = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}

_SIZE = re.compile(r"(?P<digits>[0-9]+)(?P<suffix>[KMGT]?)")

#: The largest size we accept: PostgreSQL's bigint.
MAX_SIZE = 2**63 - 1


def parse_swap_size(text: str) -> int:
    """The number of bytes text denotes (``"2G"`` → 2000000000).

    :raises ValueError: ``Invalid size for swap: <text>`` for anything that is
        not digits with an optional K/M/G/T suffix, or too large to store.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"Invalid size for swap: {text}")
    size = int(match["digits"]) * SUFFIXES[match["suffix"]]
    if size > MAX_SIZE:
        raise ValueError(f"Invalid size for swap: {text}")
    return size
