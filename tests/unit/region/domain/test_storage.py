"""acquire's storage constraint: parsing, and matching a node's block devices as 1.8 did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from region.domain.commissioning import parse_block_devices
from region.domain.storage import (
    GB,
    StorageConstraint,
    StorageDevice,
    constraint_map,
    match_storage,
    matching_order,
    parse_storage,
)

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "commissioning"


def test_empty_constraint_is_no_constraint() -> None:
    """storage= means nothing is asked of the disks."""
    assert parse_storage("") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("80", [StorageConstraint("", 80 * GB)]),
    ("root:80", [StorageConstraint("root", 80 * GB)]),
    ("1.5", [StorageConstraint("", 1_500_000_000)]),
    ("0.1", [StorageConstraint("", 100_000_000)]),
    (".5", [StorageConstraint("", 500_000_000)]),
    ("200(ssd,removable),400(ssd),300", [
        StorageConstraint("", 200 * GB, ("ssd", "removable")),
        StorageConstraint("", 400 * GB, ("ssd",)),
        StorageConstraint("", 300 * GB)]),
    ("root:30(ssd),data:1000(rotary,5400rpm)", [
        StorageConstraint("root", 30 * GB, ("ssd",)),
        StorageConstraint("data", 1000 * GB, ("rotary", "5400rpm"))]),
    ("a1:10( ssd , sata )", [StorageConstraint("a1", 10 * GB, ("ssd", "sata"))]),
])
def test_parse_storage(text: str, expected: list[StorageConstraint]) -> None:
    """[label:]size[(tags)], comma separated; sizes in decimal GB, fractions exact."""
    assert parse_storage(text) == expected


@pytest.mark.parametrize("text", [
    "abc", "80GB", "root:", ":80", "ro-ot:80", "80(ssd", "80 (ssd)", "80,", ",80", "80,,90",
    "80(ssd)x", "1.2.3", ".", "80()", "(ssd)", "root:80:90", "-5",
])
def test_malformed_constraints_are_refused(text: str) -> None:
    """Anything outside the syntax is 1.8's "Malformed storage constraint"."""
    with pytest.raises(ValueError, match=r'^Malformed storage constraint, ".*"\.$'):
        parse_storage(text)


def test_empty_tag_is_refused() -> None:
    """An empty tag could never match; say so rather than never matching."""
    with pytest.raises(ValueError, match="Empty tag"):
        parse_storage("80(ssd,)")


def test_label_used_twice_is_refused() -> None:
    """Labels name the answer's entries, so each may be used once."""
    with pytest.raises(ValueError, match='label "data" is used twice'):
        parse_storage("data:10,data:20")


def test_matching_order_keeps_first_and_sorts_rest_by_tag_count() -> None:
    """The root constraint stays first; the others go most-tagged first, stably."""
    constraints = parse_storage("a:1,b:2(x),c:3(x,y),d:4,e:5(z)")
    assert [c.label for c in matching_order(constraints)] == ["a", "c", "b", "e", "d"]


def server_devices() -> list[StorageDevice]:
    """The DL380's writable disks as the database would number them (ids 11..14)."""
    parsed = parse_block_devices((DATA / "block-devices-hp-dl380-gen9.json").read_bytes())
    return [StorageDevice(11 + i, d.size, d.tags) for i, d in enumerate(parsed)]


# The DL380: 11 = sda 299.97 GB rotary (logical volume), 12 = sdb 480.10 GB ssd sata,
# 13 = sdc 2000.40 GB rotary sata 7200rpm, 14 = sdd 15.51 GB rotary removable (USB stick).


@pytest.mark.parametrize(("text", "expected"), [
    ("root:250", {"root": 11}),
    ("250", {}),
    ("root:250,fast:400(ssd)", {"root": 11, "fast": 12}),
    ("root:100,big:1000", {"root": 11, "big": 13}),
    ("root:100,any:10", {"root": 11, "any": 14}),  # the smallest disk that is big enough
    ("root:100,a:10,b:10,c:10", {"root": 11, "a": 14, "b": 12, "c": 13}),
    ("root:100,usb:8(removable)", {"root": 11, "usb": 14}),
    ("root:100,spin:1(rotary,7200rpm)", {"root": 11, "spin": 13}),
    ("root:299.96", {"root": 11}),
])
def test_match_on_the_server(text: str, expected: dict[str, int]) -> None:
    """The first constraint takes the first disk; each other the smallest free disk
    that is large enough and has all the tags; only labelled ones are reported."""
    assert match_storage(parse_storage(text), server_devices()) == expected


@pytest.mark.parametrize("text", [
    "root:300",  # sda is 299.97 GB: the first disk is too small
    "root:100(ssd)",  # the first disk is not an SSD, though another is
    "root:100,a:10,b:10,c:10,d:10",  # more constraints than remaining disks
    "root:100,ssd:500(ssd)",  # the SSD is too small
    "root:100,x:1(nvme)",  # no disk has the tag
])
def test_no_match_on_the_server(text: str) -> None:
    """A node matches only if every constraint finds its own disk."""
    assert match_storage(parse_storage(text), server_devices()) is None


def test_tagged_constraints_choose_before_untagged_ones() -> None:
    """Written first, the untagged constraint would take the SSD (the smallest disk over
    400 GB); matched by tag count, the SSD goes to the constraint that needs it."""
    devices = [StorageDevice(1, 100 * GB, ("rotary",)), StorageDevice(2, 450 * GB, ("ssd",)),
               StorageDevice(3, 900 * GB, ("rotary",))]
    assert match_storage(parse_storage("r:50,big:400,fast:400(ssd)"), devices) == {
        "r": 1, "big": 3, "fast": 2}


def test_greedy_matching_can_miss_a_possible_assignment() -> None:
    """1.8 matched greedily: "fast" takes the smallest SSD (disk 2), which "spin" was the
    only one able to use, although fast -> 3, spin -> 2 would satisfy both.  Kept as 1.8."""
    devices = [StorageDevice(1, 10 * GB), StorageDevice(2, 50 * GB, ("ssd", "rotary")),
               StorageDevice(3, 60 * GB, ("ssd",))]
    assert match_storage(parse_storage("r:1,fast:45(ssd),spin:45(rotary)"), devices) is None
    assert match_storage(parse_storage("r:1,spin:45(rotary),fast:45(ssd)"), devices) == {
        "r": 1, "spin": 2, "fast": 3}


def test_first_disk_is_the_lowest_id_whatever_the_order_given() -> None:
    """The root constraint applies to the device with the lowest id, however listed."""
    devices = [StorageDevice(9, 500 * GB, ("ssd",)), StorageDevice(3, 100 * GB, ("rotary",))]
    assert match_storage(parse_storage("root:50(rotary)"), devices) == {"root": 3}
    assert match_storage(parse_storage("root:50(ssd)"), devices) is None


def test_equal_sizes_go_to_the_lowest_id() -> None:
    """Ties between equally large disks are broken by id."""
    devices = [StorageDevice(1, 10 * GB), StorageDevice(7, 20 * GB), StorageDevice(5, 20 * GB)]
    assert match_storage(parse_storage("r:1,x:15"), devices) == {"r": 1, "x": 5}


def test_no_constraints_match_anything_and_no_disks_match_nothing() -> None:
    """An empty constraint list matches any node; a node without disks matches none."""
    assert match_storage([], []) == {}
    assert match_storage(parse_storage("1"), []) is None


def test_database_rows_are_accepted() -> None:
    """Rows shaped (id, name, path, size, tags), as region.db.macs returns them, work too."""
    rows = [(21, "sda", "/dev/sda", 300 * GB, ["rotary"]),
            (22, "sdb", "/dev/sdb", 480 * GB, ["ssd"])]
    matched = match_storage(parse_storage("root:250,fast:400(ssd)"), rows)
    assert matched == {"root": 21, "fast": 22}
    assert constraint_map(matched) == {"21": "root", "22": "fast"}
    json.dumps(constraint_map(matched))  # JSON-ready: string keys
