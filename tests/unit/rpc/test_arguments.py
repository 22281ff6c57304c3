"""The custom argument types: their wire formats and the 64 KiB limit."""

from __future__ import annotations

import json
import os
import urllib.parse
import zlib

import pytest
from hyperlink import URL, DecodedURL
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from rpc.arguments import (
    MAX_VALUE_LENGTH,
    Bytes,
    Choice,
    CompressedAmpList,
    ParsedURL,
    StructureAsJSON,
    check_box,
    encoded_size,
    fitting_prefix,
    inflate,
)
from rpc.errors import PayloadTooLarge


def to_box(argument: amp.Argument, value: object, name: bytes = b"value") -> amp.AmpBox:
    box = amp.AmpBox()
    argument.toBox(name, box, {name.decode(): value}, None)
    return box


def from_box(argument: amp.Argument, box: amp.AmpBox, name: bytes = b"value") -> object:
    objects: dict[str, object] = {}
    argument.fromBox(name, box.copy(), objects, None)
    return objects[name.decode()]


def round_trip(argument: amp.Argument, value: object) -> object:
    return from_box(argument, to_box(argument, value))


class TestBytes(SynchronousTestCase):
    def test_round_trip(self) -> None:
        """Any bytes, NULs and high bytes included, arrive as sent."""
        value = bytes(range(256))
        self.assertEqual(to_box(Bytes(), value)[b"value"], value)
        self.assertEqual(round_trip(Bytes(), value), value)

    def test_text_is_refused(self) -> None:
        """Text is not silently encoded: the caller must choose an encoding."""
        self.assertRaises(TypeError, to_box, Bytes(), "text")


class TestChoice(SynchronousTestCase):
    def setUp(self) -> None:
        self.choice = Choice({0: b"PENDING", 1: b"ACCEPTED", 2: b"REJECTED"})

    def test_python_values_map_to_wire_values(self) -> None:
        """Each Python value travels as its own byte string and comes back."""
        self.assertEqual(to_box(self.choice, 1)[b"value"], b"ACCEPTED")
        for value in (0, 1, 2):
            self.assertEqual(round_trip(self.choice, value), value)

    def test_unknown_values_are_refused_both_ways(self) -> None:
        """A value outside the mapping is an error when sending and when receiving."""
        self.assertRaises(ValueError, to_box, self.choice, 3)
        self.assertRaises(ValueError, to_box, self.choice, [])
        self.assertRaises(ValueError, from_box, self.choice, amp.AmpBox(value=b"LOST"))

    def test_mapping_must_be_one_to_one_and_bytes(self) -> None:
        """Two values on one wire string, or text wire strings, are declaration errors."""
        self.assertRaises(ValueError, Choice, {1: b"A", 2: b"A"})
        self.assertRaises(TypeError, Choice, {1: "A"})


class TestParsedURL(SynchronousTestCase):
    def test_hyperlink_url_round_trips(self) -> None:
        """A hyperlink URL (IPv6 host, port, query) arrives equal."""
        url = URL.from_text("http://[fe80::1]:5240/MAAS/rpc/?a=b")
        self.assertEqual(round_trip(ParsedURL(), url), url)

    def test_other_spellings_are_accepted(self) -> None:
        """DecodedURL, urllib results and text all travel as the same ASCII URL."""
        text = "http://10.0.0.1/MAAS/"
        for value in (text, URL.from_text(text), DecodedURL.from_text(text),
                      urllib.parse.urlparse(text), urllib.parse.urlsplit(text)):
            self.assertEqual(to_box(ParsedURL(), value)[b"value"], text.encode())

    def test_iri_is_sent_as_uri(self) -> None:
        """Non-ASCII URLs are percent-encoded (the wire is ASCII)."""
        sent = to_box(ParsedURL(), URL.from_text("http://example.com/ünï"))[b"value"]
        self.assertEqual(sent, b"http://example.com/%C3%BCn%C3%AF")

    def test_other_types_are_refused(self) -> None:
        """Anything that is not a URL is refused before it is sent."""
        self.assertRaises(TypeError, to_box, ParsedURL(), 42)

    def test_optional_url_may_be_absent(self) -> None:
        """An optional URL left out is not on the wire and arrives as None."""
        box = to_box(ParsedURL(optional=True), None)
        self.assertEqual(box, {})
        self.assertIsNone(from_box(ParsedURL(optional=True), box))


class TestStructureAsJSON(SynchronousTestCase):
    def test_wire_format_is_zlib_compressed_json(self) -> None:
        """The value on the wire is zlib(JSON), readable by any 1.8 peer."""
        value = {"power_pass": "pw", "n": [1, None, True, 2.5], "ü": "☃"}
        wire = to_box(StructureAsJSON(), value)[b"value"]
        self.assertEqual(json.loads(zlib.decompress(wire)), value)
        self.assertEqual(round_trip(StructureAsJSON(), value), value)

    def test_reads_what_1_8_wrote(self) -> None:
        """json.dumps with default separators (as 1.8) is read too."""
        wire = zlib.compress(json.dumps({"a": [1, 2]}).encode())
        self.assertEqual(from_box(StructureAsJSON(), amp.AmpBox(value=wire)), {"a": [1, 2]})

    def test_too_large_is_refused_naming_the_argument(self) -> None:
        """Incompressible data over 64 KiB raises PayloadTooLarge, not amp.TooLong."""
        blob = os.urandom(80_000).hex()
        error = self.assertRaises(PayloadTooLarge, to_box, StructureAsJSON(), blob, b"context")
        self.assertEqual(error.name, "context")
        self.assertGreater(error.size, MAX_VALUE_LENGTH)
        self.assertIn("'context'", str(error))

    def test_zlib_bomb_is_refused(self) -> None:
        """A small value that inflates past the guard is refused rather than inflated."""
        bomb = zlib.compress(b"[" + b"0," * 10_000_000 + b"0]")
        self.assertLess(len(bomb), MAX_VALUE_LENGTH)
        self.assertRaises(ValueError, from_box, StructureAsJSON(), amp.AmpBox(value=bomb))


class TestCompressedAmpList(SynchronousTestCase):
    def setUp(self) -> None:
        self.argument = CompressedAmpList([(b"ip", amp.Unicode()), (b"mac", amp.Unicode())])

    def test_wire_format_is_a_compressed_amp_list(self) -> None:
        """Inflated, the value is exactly what a plain AmpList would send."""
        leases = [{"ip": "10.0.0.1", "mac": "00:11:22:33:44:55"}]
        plain = amp.AmpList(self.argument.subargs)
        wire = to_box(self.argument, leases)[b"value"]
        self.assertEqual(zlib.decompress(wire), to_box(plain, leases)[b"value"])
        self.assertEqual(round_trip(self.argument, leases), leases)

    def test_empty_list(self) -> None:
        """An empty list round-trips (and is still compressed)."""
        self.assertEqual(round_trip(self.argument, []), [])

    def test_one_item_too_large_is_refused_naming_it(self) -> None:
        """An item value over 64 KiB is named (list.item), even before compression."""
        leases = [{"ip": "x" * (MAX_VALUE_LENGTH + 1), "mac": "m"}]
        error = self.assertRaises(PayloadTooLarge, to_box, self.argument, leases, b"mappings")
        self.assertEqual(error.name, "mappings.ip")


class TestLimits(SynchronousTestCase):
    def test_check_box_names_the_offending_key(self) -> None:
        """check_box names the key over the limit and accepts exactly 65,535 bytes."""
        box = amp.AmpBox(small=b"x", big=b"x" * (MAX_VALUE_LENGTH + 1))
        error = self.assertRaises(PayloadTooLarge, check_box, box)
        self.assertEqual((error.name, error.size), ("big", MAX_VALUE_LENGTH + 1))
        check_box(amp.AmpBox(edge=b"x" * MAX_VALUE_LENGTH))

    def test_inflate_within_limit(self) -> None:
        """inflate returns the data within its limit and refuses beyond it."""
        self.assertEqual(inflate(zlib.compress(b"abc" * 1000)), b"abc" * 1000)
        self.assertRaises(ValueError, inflate, zlib.compress(b"a" * 1001), limit=1000)


@pytest.mark.parametrize("compressed", [False, True], ids=["AmpList", "CompressedAmpList"])
def test_fitting_prefix_is_the_longest_prefix_that_fits(compressed: bool) -> None:
    """fitting_prefix keeps items in order and stops at the last one that fits."""
    kind = CompressedAmpList if compressed else amp.AmpList
    argument = kind([(b"blob", amp.Unicode())])
    items = [{"blob": os.urandom(500).hex()} for _ in range(200)]
    limit = 20_000
    taken = fitting_prefix(argument, items, limit=limit)
    assert taken == items[: len(taken)]
    assert 0 < len(taken) < len(items)
    assert encoded_size(argument, taken) <= limit
    assert encoded_size(argument, items[: len(taken) + 1]) > limit
    assert fitting_prefix(argument, items[:3], limit=limit) == items[:3]
    assert fitting_prefix(argument, [], limit=limit) == []
