"""The BSON codec: byte-exact against the spec's examples, strict, and total on bad input."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from region.domain import bson
from region.domain.bson import MAX_DEPTH, Binary, BSONError, decode, encode

# Examples from bsonspec.org/faq.html (and the 1.0 spec's element layouts).
HELLO_WORLD = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
AWESOME = (b"\x31\x00\x00\x00\x04BSON\x00\x26\x00\x00\x00\x020\x00\x08\x00\x00\x00awesome\x00"
           b"\x011\x00\x33\x33\x33\x33\x33\x33\x14\x40\x102\x00\xc2\x07\x00\x00\x00\x00")


@pytest.mark.parametrize(("document", "encoded"), [
    ({"hello": "world"}, HELLO_WORLD),
    ({"BSON": ["awesome", 5.05, 1986]}, AWESOME),
    ({}, b"\x05\x00\x00\x00\x00"),
    ({"n": None}, b"\x08\x00\x00\x00\x0an\x00\x00"),
    ({"t": True, "f": False}, b"\x0d\x00\x00\x00\x08t\x00\x01\x08f\x00\x00\x00"),
    ({"i": -1}, b"\x0c\x00\x00\x00\x10i\x00\xff\xff\xff\xff\x00"),
    ({"i": 2**31}, b"\x10\x00\x00\x00\x12i\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00"),
    ({"b": Binary(b"\x00\x01")}, b"\x0f\x00\x00\x00\x05b\x00\x02\x00\x00\x00\x00\x00\x01\x00"),
    ({"d": {"a": 1}},
     b"\x14\x00\x00\x00\x03d\x00\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00\x00"),
    ({"é": "ü"}, b"\x10\x00\x00\x00\x02\xc3\xa9\x00\x03\x00\x00\x00\xc3\xbc\x00\x00"),
])
def test_known_encodings(document: dict, encoded: bytes) -> None:
    """Encoding gives the spec's exact bytes, and decoding them gives the document back."""
    assert encode(document) == encoded
    assert decode(encoded) == document


def test_int32_boundaries_choose_the_smallest_type() -> None:
    """Integers that fit in 32 bits are int32 (0x10); larger ones int64 (0x12)."""
    assert encode({"x": 2**31 - 1})[4] == 0x10
    assert encode({"x": -(2**31)})[4] == 0x10
    assert encode({"x": -(2**31) - 1})[4] == 0x12
    assert decode(encode({"x": 2**63 - 1, "y": -(2**63)})) == {"x": 2**63 - 1, "y": -(2**63)}


def test_bytes_travel_as_generic_binary_and_come_back_as_binary() -> None:
    """Plain bytes encode as binary subtype 0 and decode as Binary (a bytes subclass)."""
    decoded = decode(encode({"lshw": b"<list/>", "lldp": None}))
    assert decoded == {"lshw": b"<list/>", "lldp": None}
    assert type(decoded["lshw"]) is Binary
    assert repr(decoded["lshw"]) == "Binary(b'<list/>')"


def test_node_details_document_as_gomaasapi_reads_it() -> None:
    """``node op=details``: {"lshw": Binary, "lldp": Binary|null}, nested per system_id for
    ``nodegroup op=details``."""
    details = {"node-1": {"lshw": Binary(b"<list>...</list>"), "lldp": None}}
    assert decode(encode(details)) == details


def test_tuples_encode_as_arrays() -> None:
    """Any sequence that is a list or tuple is an array; it decodes as a list."""
    assert decode(encode({"a": (1, "two", None)})) == {"a": [1, "two", None]}


def test_strings_may_contain_nul_but_keys_may_not() -> None:
    """Strings are length-prefixed and may hold NUL; keys are C strings and may not."""
    assert decode(encode({"s": "a\x00b"})) == {"s": "a\x00b"}
    with pytest.raises(BSONError):
        encode({"a\x00b": 1})


@pytest.mark.parametrize("document", [
    {"x": 2**63},
    {"x": -(2**63) - 1},
    {"x": object()},
    {"x": {1, 2}},
    {1: "non-string key"},
    {"x": "\ud800"},  # a lone surrogate is not encodable UTF-8
    {"\udfff": 1},
])
def test_unencodable_values_raise_bson_error(document: dict) -> None:
    """Values BSON cannot carry raise BSONError, nothing else."""
    with pytest.raises(BSONError):
        encode(document)


def test_top_level_must_be_a_mapping() -> None:
    """A list or scalar is not a document."""
    with pytest.raises(BSONError):
        encode([1, 2])  # type: ignore[arg-type]


def nested(depth: int) -> dict:
    document: dict = {}
    for _ in range(depth - 1):
        document = {"d": document}
    return document


def test_nesting_is_limited_both_ways() -> None:
    """Documents nest at most MAX_DEPTH deep, on encoding and decoding."""
    assert decode(encode(nested(MAX_DEPTH))) == nested(MAX_DEPTH)
    with pytest.raises(BSONError, match="nesting"):
        encode(nested(MAX_DEPTH + 1))
    # Build the too-deep encoding by hand, as a hostile peer would.
    data = b"\x05\x00\x00\x00\x00"
    for _ in range(MAX_DEPTH):
        body = b"\x03d\x00" + data
        data = struct.pack("<i", len(body) + 5) + body + b"\x00"
    with pytest.raises(BSONError, match="nesting"):
        decode(data)


def raw(body: bytes) -> bytes:
    """A document around body, with a correct length and terminator."""
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "truncated"),
    (b"\x05\x00\x00", "truncated"),
    (HELLO_WORLD + b"\x00", "length"),
    (HELLO_WORLD[:-1], "length"),
    (b"\x05\x00\x00\x00\x01", "terminating NUL"),
    (b"\x04\x00\x00\x00", "length"),
    (raw(b"\x02hello\x00\x07\x00\x00\x00world\x00"), "string length"),
    (raw(b"\x02hello\x00\x06\x00\x00\x00worldX"), "string length"),
    (raw(b"\x02hello\x00\x00\x00\x00\x00world\x00"), "string length"),
    (raw(b"\x02\xff\x00\x01\x00\x00\x00\x00"), "UTF-8"),
    (raw(b"\x02k\x00\x02\x00\x00\x00\xff\x00"), "UTF-8"),
    (raw(b"\x08b\x00\x02"), "boolean"),
    (raw(b"\x07o\x00" + bytes(12)), "unsupported element type"),
    (raw(b"\x05b\x00\x01\x00\x00\x00\x80\x00"), "subtype"),
    (raw(b"\x05b\x00\x09\x00\x00\x00\x00\x00"), "binary length"),
    (raw(b"\x05b\x00\xff\xff\xff\xff\x00"), "binary length"),
    (raw(b"\x0aa\x00\x0aa\x00"), "duplicate"),
    (raw(b"\x04a\x00" + raw(b"\x101\x00\x01\x00\x00\x00")), "array key"),
    (raw(b"\x10i\x00\x01\x00"), "truncated int32"),
    (raw(b"\x12i\x00\x01\x00\x00\x00"), "truncated int64"),
    (raw(b"\x01x\x00\x00\x00"), "truncated double"),
    (raw(b"\x03d\x00\x09\x00\x00\x00\x00"), "document length"),
    (raw(b"\x0aab"), "C string"),
])
def test_malformed_data_raises_bson_error(data: bytes, problem: str) -> None:
    """Each kind of corruption is refused, with a message naming it."""
    with pytest.raises(BSONError, match=problem):
        decode(data)


def test_decode_requires_bytes() -> None:
    """A str is not BSON."""
    with pytest.raises(BSONError):
        decode("\x05\x00\x00\x00\x00")  # type: ignore[arg-type]


keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=8)
scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False) | st.text(st.characters(blacklist_categories=("Cs",)))
           | st.binary().map(Binary))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=20)
documents = st.dictionaries(keys, values, max_size=6)


@given(documents)
def test_round_trip(document: dict) -> None:
    """decode(encode(d)) == d for every document of supported values."""
    assert decode(encode(document)) == document


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_doubles_round_trip_bit_for_bit(value: float) -> None:
    """Doubles, NaN and infinities included, come back with the same bits."""
    decoded = decode(encode({"x": value}))["x"]
    assert struct.pack("<d", decoded) == struct.pack("<d", value) or (
        math.isnan(value) and math.isnan(decoded))


@given(st.binary(max_size=200))
def test_random_bytes_raise_nothing_but_bson_error(data: bytes) -> None:
    """Arbitrary bytes either decode or raise BSONError; no other exception escapes."""
    try:
        decode(data)
    except BSONError:
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.data())
def test_corrupted_encodings_raise_nothing_but_bson_error(
        document: dict, data: st.DataObject) -> None:
    """Valid encodings with bytes flipped, cut or inserted (the inputs random bytes rarely
    reach) either decode to something that re-encodes consistently or raise BSONError."""
    encoded = bytearray(encode(document))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            encoded[position] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del encoded[position]
        else:
            encoded.insert(position, data.draw(st.integers(0, 255)))
        if not encoded:
            break
    try:
        decoded = decode(bytes(encoded))
    except BSONError:
        return
    assert decode(encode(decoded)) == decoded or any(
        isinstance(v, float) and math.isnan(v) for v in _leaves(decoded))


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_module_exports_type_codes() -> None:
    """Type codes are the spec's (documents the wire format in code)."""
    assert (bson.DOUBLE, bson.STRING, bson.DOCUMENT, bson.ARRAY, bson.BINARY, bson.BOOLEAN,
            bson.NULL, bson.INT32, bson.INT64) == (1, 2, 3, 4, 5, 8, 10, 16, 18)
