"""
The URL layout of the metadata service, as a pure function of the path.

Paths are relative to ``/MAAS/metadata/`` and already percent-decoded.  A
version segment is kept as given; whether it is a version we serve is the
resource's business (1.8 checks it after authenticating the node).
"""

from __future__ import annotations

import enum

import attrs

#: The metadata versions served, in the order the root listing shows them.
VERSIONS = ("2012-03-01", "latest")


class Kind(enum.Enum):
    """What a path names."""

    INDEX = "index"  # the list of versions
    VERSION = "version"  # <v>/: listing (GET), signal and netboot ops (POST)
    META_DATA = "meta-data"  # <v>/meta-data/ and <v>/meta-data/<item>
    USER_DATA = "user-data"
    SCRIPTS = "maas-commissioning-scripts"
    BY_ID = "by-id"  # <v>/by-id/<system_id>/ (anonymous ops)
    BY_MAC = "by-mac"  # <v>/by-mac/<mac>/... (refused)
    ENLIST_PRESEED = "enlist-preseed"
    ENLIST_INDEX = "enlist-index"
    ENLIST_VERSION = "enlist-version"
    ENLIST_META_DATA = "enlist-meta-data"
    ENLIST_USER_DATA = "enlist-user-data"


#: Kinds anyone may request, without a node's credentials.
ANONYMOUS = frozenset({
    Kind.BY_ID, Kind.BY_MAC, Kind.ENLIST_PRESEED, Kind.ENLIST_INDEX, Kind.ENLIST_VERSION,
    Kind.ENLIST_META_DATA, Kind.ENLIST_USER_DATA,
})


@attrs.frozen
class Route:
    kind: Kind
    version: str | None = None
    #: The meta-data item ("" for the listing), or the system_id for by-id.
    item: str = ""


def _versioned(segments: list[str], enlist: bool) -> Route | None:
    version, rest = segments[0], segments[1:]
    if not version:
        return None
    if not rest or rest == [""]:
        return Route(Kind.ENLIST_VERSION if enlist else Kind.VERSION, version)
    head, tail = rest[0], rest[1:]
    if head == "meta-data":
        if len(tail) > 1 and tail[1:] != [""]:
            return None
        kind = Kind.ENLIST_META_DATA if enlist else Kind.META_DATA
        return Route(kind, version, tail[0] if tail else "")
    if head == "user-data" and not tail:
        return Route(Kind.ENLIST_USER_DATA if enlist else Kind.USER_DATA, version)
    if enlist:
        return None
    if head == "maas-commissioning-scripts" and not tail:
        return Route(Kind.SCRIPTS, version)
    if head == "by-id" and tail and tail[0] and tail[1:] in ([], [""]):
        return Route(Kind.BY_ID, version, tail[0])
    if head == "by-mac" and tail and tail[0]:
        return Route(Kind.BY_MAC, version, tail[0])
    if head == "enlist-preseed" and tail in ([], [""]):
        return Route(Kind.ENLIST_PRESEED, version)
    return None


def route(path: str) -> Route | None:
    """What the path (relative to the metadata root) names, or None (404)."""
    if path == "":
        return Route(Kind.INDEX)
    segments = path.split("/")
    if segments[0] == "enlist":
        if segments[1:] in ([], [""]):
            return Route(Kind.ENLIST_INDEX)
        return _versioned(segments[1:], enlist=True)
    return _versioned(segments, enlist=False)
