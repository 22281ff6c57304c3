"""
A small BSON codec: the part of the format MAAS 1.8's API speaks.

``node op=details`` and ``nodegroup op=details`` answer in BSON
(``application/bson``, http://bsonspec.org/spec.html), and gomaasapi decodes
it.  We need documents, arrays, UTF-8 strings, generic binary data, null,
booleans, 32- and 64-bit integers and doubles; nothing else is produced, and
anything else is refused when decoding.

Python values map to BSON types as follows:

=========================  ===========================  ====================
encode (Python)            BSON element (type byte)     decode (Python)
=========================  ===========================  ====================
``float``                  double (0x01)                ``float``
``str``                    string (0x02)                ``str``
``Mapping``                embedded document (0x03)     ``dict``
``list``, ``tuple``        array (0x04)                 ``list``
``bytes``, :class:`Binary`  binary, subtype 0 (0x05)     :class:`Binary`
``bool``                   boolean (0x08)               ``bool``
``None``                   null (0x0A)                  ``None``
``int`` in int32 range     int32 (0x10)                 ``int``
other ``int`` (int64)      int64 (0x12)                 ``int``
=========================  ===========================  ====================

Decoding is strict: every length must agree with the data, documents and
strings must end with their NUL, keys and strings must be UTF-8 (keys
without NULs; a string may contain one, as the spec allows), booleans must
be 0 or 1, array keys must be ``"0"``, ``"1"``, … in order, a key may
appear once per document, and nesting is limited to :data:`MAX_DEPTH`.
Any violation — and any value that cannot be encoded — raises
:class:`BSONError` and nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

#: Deepest nesting of documents and arrays, on encoding and decoding
#: (MongoDB's own limit is 100).
MAX_DEPTH = 100

_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")
_MIN_DOCUMENT = 5  # int32 length + terminating NUL

DOUBLE, STRING, DOCUMENT, ARRAY, BINARY, BOOLEAN, NULL, INT32, INT64 = (
    0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0A, 0x10, 0x12)
_BINARY_GENERIC = 0x00


class BSONError(ValueError):
    """Data that is not BSON we understand, or a value BSON cannot carry."""


class Binary(bytes):
    """Bytes that travel as BSON binary data (subtype 0, generic)."""

    def __repr__(self) -> str:
        return f"Binary({bytes(self)!r})"


# -- encoding ---------------------------------------------------------------


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise BSONError(f"{what} {text!r} is not valid Unicode") from None


def _cstring(text: str) -> bytes:
    data = _utf8(text, "key")
    if b"\x00" in data:
        raise BSONError(f"key {text!r} contains a NUL")
    return data + b"\x00"


def _element(key: str, value: Any, depth: int) -> bytes:
    name = _cstring(key)
    if value is None:
        return bytes([NULL]) + name
    if isinstance(value, bool):
        return bytes([BOOLEAN]) + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return bytes([INT32]) + name + _INT32.pack(value)
        if -(2**63) <= value < 2**63:
            return bytes([INT64]) + name + _INT64.pack(value)
        raise BSONError(f"integer {value} does not fit in 64 bits")
    if isinstance(value, float):
        return bytes([DOUBLE]) + name + _DOUBLE.pack(value)
    if isinstance(value, str):
        data = _utf8(value, "string") + b"\x00"
        return bytes([STRING]) + name + _INT32.pack(len(data)) + data
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return bytes([BINARY]) + name + _INT32.pack(len(data)) + bytes([_BINARY_GENERIC]) + data
    if isinstance(value, Mapping):
        return bytes([DOCUMENT]) + name + _document(value, depth + 1)
    if isinstance(value, list | tuple):
        items = {str(index): item for index, item in enumerate(value)}
        return bytes([ARRAY]) + name + _document(items, depth + 1)
    raise BSONError(f"cannot encode {type(value).__name__} as BSON")


def _document(doc: Mapping[Any, Any], depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise BSONError(f"nesting deeper than {MAX_DEPTH}")
    parts = []
    for key, value in doc.items():
        if not isinstance(key, str):
            raise BSONError(f"document keys must be strings, not {type(key).__name__}")
        parts.append(_element(key, value, depth))
    body = b"".join(parts)
    return _INT32.pack(len(body) + _MIN_DOCUMENT) + body + b"\x00"


def encode(doc: Mapping[str, Any]) -> bytes:
    """The BSON encoding of doc (a mapping with string keys)."""
    if not isinstance(doc, Mapping):
        raise BSONError(f"a BSON document must be a mapping, not {type(doc).__name__}")
    return _document(doc, 1)


# -- decoding ---------------------------------------------------------------


class _Reader:
    """Decodes one document from data[start:end], checking every length."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def int32(self, position: int, end: int) -> int:
        if position + 4 > end:
            raise BSONError(f"truncated int32 at offset {position}")
        return int(_INT32.unpack_from(self.data, position)[0])

    def cstring(self, position: int, end: int) -> tuple[str, int]:
        terminator = self.data.find(b"\x00", position, end)
        if terminator < 0:
            raise BSONError(f"unterminated C string at offset {position}")
        return self.utf8(self.data[position:terminator], position), terminator + 1

    @staticmethod
    def utf8(raw: bytes, position: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BSONError(f"invalid UTF-8 at offset {position}") from None

    def document(self, position: int, end: int, depth: int, array: bool = False) -> Any:
        """The document starting at position, which must end at or before end."""
        if depth > MAX_DEPTH:
            raise BSONError(f"nesting deeper than {MAX_DEPTH}")
        length = self.int32(position, end)
        if length < _MIN_DOCUMENT or position + length > end:
            raise BSONError(f"bad document length {length} at offset {position}")
        stop = position + length - 1  # offset of the terminating NUL
        if self.data[stop] != 0:
            raise BSONError(f"document at offset {position} lacks its terminating NUL")
        result: dict[str, Any] = {}
        cursor = position + 4
        while cursor < stop:
            kind = self.data[cursor]
            key, cursor = self.cstring(cursor + 1, stop)
            if key in result:
                raise BSONError(f"duplicate key {key!r} at offset {cursor}")
            if array and key != str(len(result)):
                raise BSONError(f"array key {key!r} out of sequence at offset {cursor}")
            result[key], cursor = self.value(kind, cursor, stop, depth)
        return list(result.values()) if array else result

    def value(self, kind: int, position: int, end: int, depth: int) -> tuple[Any, int]:
        data = self.data
        if kind == DOUBLE:
            if position + 8 > end:
                raise BSONError(f"truncated double at offset {position}")
            return _DOUBLE.unpack_from(data, position)[0], position + 8
        if kind == STRING:
            length = self.int32(position, end)
            start, stop = position + 4, position + 4 + length
            if length < 1 or stop > end or data[stop - 1] != 0:
                raise BSONError(f"bad string length {length} at offset {position}")
            return self.utf8(data[start:stop - 1], start), stop
        if kind in (DOCUMENT, ARRAY):
            length = self.int32(position, end)
            return self.document(position, end, depth + 1, kind == ARRAY), position + length
        if kind == BINARY:
            length = self.int32(position, end)
            start = position + 5
            if length < 0 or start + length > end:
                raise BSONError(f"bad binary length {length} at offset {position}")
            if data[position + 4] != _BINARY_GENERIC:
                raise BSONError(f"unsupported binary subtype {data[position + 4]:#04x}")
            return Binary(data[start:start + length]), start + length
        if kind == BOOLEAN:
            if position >= end or data[position] not in (0, 1):
                raise BSONError(f"bad boolean at offset {position}")
            return data[position] == 1, position + 1
        if kind == NULL:
            return None, position
        if kind == INT32:
            return self.int32(position, end), position + 4
        if kind == INT64:
            if position + 8 > end:
                raise BSONError(f"truncated int64 at offset {position}")
            return int(_INT64.unpack_from(data, position)[0]), position + 8
        raise BSONError(f"unsupported element type {kind:#04x} at offset {position - 1}")


def decode(data: bytes) -> dict[str, Any]:
    """The document data holds; data must be exactly one BSON document.

    :raises BSONError: when data is not (exactly) a valid document of the
        supported types.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BSONError(f"BSON data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    reader = _Reader(data)
    length = reader.int32(0, len(data))
    if length != len(data):
        raise BSONError(f"document length {length} but {len(data)} bytes given")
    result: dict[str, Any] = reader.document(0, len(data), 1)
    return result
