"""
Custom AMP argument types, with the wire formats of MAAS 1.8.

Every AMP value is at most 65,535 bytes (``amp.MAX_VALUE_LENGTH``).  A value
that would be larger is refused *before* it is written, with
:class:`rpc.errors.PayloadTooLarge` naming the argument, instead of the bare
``amp.TooLong`` (whose message is empty) or a corrupted stream.  Lists whose
worst case can pass the limit use :class:`CompressedAmpList`, or are cut to
size with :func:`fitting_prefix` (the region pages ListNodePowerParameters that
way, as 1.8 does).
"""

from __future__ import annotations

import json
import urllib.parse
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hyperlink import URL, DecodedURL
from twisted.protocols import amp

from rpc.errors import PayloadTooLarge

#: The largest AMP value, in bytes.
MAX_VALUE_LENGTH: int = amp.MAX_VALUE_LENGTH

#: The most a compressed value may inflate to: a guard against zlib bombs.
MAX_INFLATED_LENGTH = 16 * 1024 * 1024


def check_value(name: str, value: bytes, limit: int = MAX_VALUE_LENGTH) -> bytes:
    """Return value, or raise PayloadTooLarge if it is over the AMP limit."""
    if len(value) > limit:
        raise PayloadTooLarge(name, len(value), limit)
    return value


def check_box(box: Mapping[bytes, bytes]) -> None:
    """Raise PayloadTooLarge if any value of an AMP box is over the limit."""
    for key, value in box.items():
        check_value(key.decode("ascii", "replace"), value)


def inflate(data: bytes, limit: int = MAX_INFLATED_LENGTH) -> bytes:
    """zlib-decompress data, refusing to produce more than limit bytes."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit)
    if not inflater.unconsumed_tail:
        out += inflater.flush()
    if inflater.unconsumed_tail or len(out) > limit:
        raise ValueError(f"compressed AMP value inflates to more than {limit:,} bytes")
    return out


class _Checked(amp.Argument):
    """
    Mixin: check the encoded value against the AMP limit, naming the argument.

    It also turns ``amp.TooLong`` raised while encoding a nested box (an item
    of an AmpList) into PayloadTooLarge.
    """

    def toBox(self, name: bytes, strings: Any, objects: Any, proto: Any) -> None:
        label = name.decode("ascii", "replace")
        try:
            super().toBox(name, strings, objects, proto)
        except amp.TooLong as error:
            inner = error.keyName.decode("ascii", "replace") if error.keyName else "?"
            raise PayloadTooLarge(f"{label}.{inner}", len(error.value), MAX_VALUE_LENGTH) from None
        if name in strings:
            check_value(label, strings[name])


class Bytes(_Checked):
    """Raw bytes, sent as they are."""

    def toString(self, inObject: bytes) -> bytes:
        if not isinstance(inObject, bytes):
            raise TypeError(f"Bytes wants bytes, not {type(inObject).__name__}")
        return inObject

    def fromString(self, inString: bytes) -> bytes:
        return bytes(inString)


class Choice(_Checked):
    """
    One of a fixed set of Python values, each sent as its own byte string.

    ``Choice({ClusterStatus.PENDING: b"PENDING", ...})``: the mapping goes from
    the Python value to the wire value and must be one-to-one.
    """

    def __init__(self, choices: Mapping[Any, bytes], optional: bool = False) -> None:
        super().__init__(optional)
        for wire in choices.values():
            if not isinstance(wire, bytes):
                raise TypeError(f"Choice wire values must be bytes, got {wire!r}")
        self.choices: dict[Any, bytes] = dict(choices)
        self.reverse: dict[bytes, Any] = {wire: value for value, wire in self.choices.items()}
        if len(self.reverse) != len(self.choices):
            raise ValueError("Choice wire values must be distinct")

    def toString(self, inObject: Any) -> bytes:
        try:
            return self.choices[inObject]
        except (KeyError, TypeError):
            known = sorted(map(repr, self.choices))
            raise ValueError(f"{inObject!r} is not one of {known}") from None

    def fromString(self, inString: bytes) -> Any:
        try:
            return self.reverse[inString]
        except KeyError:
            raise ValueError(f"{inString!r} is not one of {sorted(self.reverse)}") from None


class ParsedURL(_Checked):
    """
    A URL, sent as ASCII text (IRIs are encoded to URIs) and received as a
    ``hyperlink.URL``.  Accepts a hyperlink ``URL``/``DecodedURL``, a
    ``urllib.parse`` result, or text.
    """

    def toString(self, inObject: Any) -> bytes:
        if isinstance(inObject, DecodedURL):
            url = inObject.encoded_url
        elif isinstance(inObject, URL):
            url = inObject
        elif isinstance(inObject, (urllib.parse.ParseResult, urllib.parse.SplitResult)):
            url = URL.from_text(inObject.geturl())
        elif isinstance(inObject, str):
            url = URL.from_text(inObject)
        else:
            raise TypeError(f"ParsedURL cannot send a {type(inObject).__name__}")
        text: str = url.to_text()
        if not text.isascii():
            # An IRI: percent-encode it (hyperlink's to_uri mishandles IPv6
            # hosts, so only IRIs go through it).
            text = url.to_uri().to_text()
        return text.encode("ascii")

    def fromString(self, inString: bytes) -> URL:
        return URL.from_text(inString.decode("ascii"))


class StructureAsJSON(_Checked):
    """Any JSON-able structure, sent as zlib-compressed JSON (UTF-8)."""

    def toString(self, inObject: Any) -> bytes:
        text = json.dumps(inObject, separators=(",", ":"), ensure_ascii=False)
        return zlib.compress(text.encode("utf-8"))

    def fromString(self, inString: bytes) -> Any:
        return json.loads(inflate(inString).decode("utf-8"))


class CompressedAmpList(_Checked, amp.AmpList):
    """An ``amp.AmpList`` whose serialised form is zlib-compressed."""

    def toStringProto(self, inObject: Any, proto: Any) -> bytes:
        return zlib.compress(super().toStringProto(inObject, proto))

    def fromStringProto(self, inString: bytes, proto: Any) -> Any:
        return super().fromStringProto(inflate(inString), proto)


def encoded_size(argument: amp.Argument, value: Any, proto: Any = None) -> int:
    """How many bytes argument would put on the wire for value (not checked)."""
    return len(argument.toStringProto(value, proto))


def fitting_prefix(
    argument: amp.Argument,
    items: Iterable[Any],
    *,
    limit: int = MAX_VALUE_LENGTH,
    proto: Any = None,
) -> list[Any]:
    """
    The longest prefix of items that argument (a list type) can send in one
    AMP value of at most limit bytes.  An AmpList's size is the sum of its
    items' sizes; anything else (e.g. CompressedAmpList) is bisected.
    """
    pending: Sequence[Any] = list(items)
    if isinstance(argument, amp.AmpList) and not isinstance(argument, CompressedAmpList):
        taken: list[Any] = []
        total = 0
        for item in pending:
            total += encoded_size(argument, [item], proto)
            if total > limit:
                break
            taken.append(item)
        return taken
    low, high = 0, len(pending)
    while low < high:
        middle = (low + high + 1) // 2
        if encoded_size(argument, pending[:middle], proto) <= limit:
            low = middle
        else:
            high = middle - 1
    return list(pending[:low])
