"""The URL layout of the metadata service."""

from __future__ import annotations

import pytest

from region.metadata.paths import ANONYMOUS, Kind, Route, route


@pytest.mark.parametrize(("path", "expected"), [
    ("", Route(Kind.INDEX)),
    ("latest/", Route(Kind.VERSION, "latest")),
    ("latest", Route(Kind.VERSION, "latest")),
    ("2012-03-01/", Route(Kind.VERSION, "2012-03-01")),
    ("1999-01-01/", Route(Kind.VERSION, "1999-01-01")),
    ("latest/meta-data/", Route(Kind.META_DATA, "latest", "")),
    ("latest/meta-data", Route(Kind.META_DATA, "latest", "")),
    ("latest/meta-data/instance-id", Route(Kind.META_DATA, "latest", "instance-id")),
    ("latest/meta-data/public-keys/", Route(Kind.META_DATA, "latest", "public-keys")),
    ("latest/user-data", Route(Kind.USER_DATA, "latest")),
    ("latest/maas-commissioning-scripts", Route(Kind.SCRIPTS, "latest")),
    ("latest/by-id/node-1/", Route(Kind.BY_ID, "latest", "node-1")),
    ("latest/by-id/node-1", Route(Kind.BY_ID, "latest", "node-1")),
    ("latest/by-mac/aa:bb:cc:dd:ee:ff/", Route(Kind.BY_MAC, "latest", "aa:bb:cc:dd:ee:ff")),
    ("latest/by-mac/aa:bb:cc:dd:ee:ff/meta-data/",
     Route(Kind.BY_MAC, "latest", "aa:bb:cc:dd:ee:ff")),
    ("latest/enlist-preseed/", Route(Kind.ENLIST_PRESEED, "latest")),
    ("enlist/", Route(Kind.ENLIST_INDEX)),
    ("enlist", Route(Kind.ENLIST_INDEX)),
    ("enlist/latest/", Route(Kind.ENLIST_VERSION, "latest")),
    ("enlist/latest/meta-data/", Route(Kind.ENLIST_META_DATA, "latest", "")),
    ("enlist/latest/meta-data/local-hostname",
     Route(Kind.ENLIST_META_DATA, "latest", "local-hostname")),
    ("enlist/latest/user-data", Route(Kind.ENLIST_USER_DATA, "latest")),
])
def test_paths_name_what_1_8_serves(path: str, expected: Route) -> None:
    """Each 1.8 metadata URL maps to the endpoint that serves it."""
    assert route(path) == expected


@pytest.mark.parametrize("path", [
    "latest/nothing", "latest/meta-data/a/b", "latest/user-data/x", "latest/by-id/",
    "latest/by-id/a/b", "enlist/latest/maas-commissioning-scripts", "enlist/latest/by-id/x/",
    "/latest/", "latest/by-mac/",
])
def test_other_paths_are_not_found(path: str) -> None:
    """Paths outside the layout name nothing (404)."""
    assert route(path) is None


def test_only_preseeds_and_enlistment_are_anonymous() -> None:
    """A node's own data needs its credentials; preseeds and enlistment do not."""
    assert {Kind.INDEX, Kind.VERSION, Kind.META_DATA, Kind.USER_DATA,
            Kind.SCRIPTS}.isdisjoint(ANONYMOUS)
    assert {Kind.BY_ID, Kind.ENLIST_PRESEED, Kind.ENLIST_USER_DATA} <= ANONYMOUS
