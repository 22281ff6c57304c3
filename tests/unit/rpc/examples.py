"""
Example values for any argument schema, derived from the argument types.

``examples(schema, full=True)`` returns what to send and what the other side
should receive.  With ``full=False`` every optional argument (at any depth) is
left out, and is expected to arrive as ``None``.  An argument type without an
example here is an error, so a new type cannot slip past the round-trip tests.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from hyperlink import URL
from twisted.protocols import amp

from rpc.arguments import Bytes, Choice, ParsedURL, StructureAsJSON

Schema = Sequence[tuple[bytes, amp.Argument]]

WHEN = datetime.datetime(2015, 6, 10, 12, 30, 15, 123456, tzinfo=amp.utc)
URL_EXAMPLE = URL.from_text("http://[fe80::1]:5240/MAAS/api/1.0/?op=list")
STRUCTURE = {"power_address": "10.0.0.1", "power_pass": "s3cret", "list": [1, 2.5, None, True],
             "nested": {"ünïcode": "☃"}}


def example(argument: amp.Argument, full: bool = True) -> tuple[Any, Any]:
    """(value to send, value expected on the other side) for one argument."""
    if isinstance(argument, amp.AmpList):  # CompressedAmpList too
        items = [examples(argument.subargs, full) for _ in range(2)]
        return [sent for sent, _ in items], [expected for _, expected in items]
    if isinstance(argument, amp.ListOf):
        sent, expected = example(argument.elementType, full)
        return [sent, sent], [expected, expected]
    if isinstance(argument, Choice):
        value = sorted(argument.choices, key=repr)[-1]
        return value, value
    simple: dict[type[amp.Argument], Any] = {
        Bytes: b"\x00\xff raw bytes",
        ParsedURL: URL_EXAMPLE,
        StructureAsJSON: STRUCTURE,
        amp.Unicode: "unicode ünïcode ☃",
        amp.String: b"\x00\x01 string bytes",
        amp.Integer: -42,
        amp.Boolean: True,
        amp.DateTime: WHEN,
    }
    value = simple.get(type(argument), KeyError)
    if value is KeyError:
        raise TypeError(f"no example for argument type {type(argument).__name__}")
    return value, value


def examples(schema: Schema, full: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments to send, keyword arguments expected) for a schema."""
    sent: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for name, argument in schema:
        key = name.decode("ascii")
        if argument.optional and not full:
            expected[key] = None
            continue
        sent[key], expected[key] = example(argument, full)
    return sent, expected
