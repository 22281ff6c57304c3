"""
The ``storage`` constraint of ``nodes op=acquire`` (new in MAAS 1.8).

Juju asks for disks with a comma-separated list of ``[label:]size[(tag,...)]``:

    root:80(ssd),data:400(rotary),200

* ``size`` is in gigabytes (10⁹ bytes) and may have a fraction (``1.5``);
* ``tags`` must all be tags of the chosen disk (``ssd``, ``rotary``,
  ``removable``, ``sata``, ``7200rpm``, … as commissioning sets them);
* ``label`` (letters and digits) names the constraint in the answer.

Matching a node, as 1.8's ``nodes_by_storage`` did:

1. The **first** constraint applies to the node's first disk (the block
   device with the lowest id, the one MAAS installs to); that disk must be at
   least as large and carry all the tags.
2. The other constraints are taken in order of how many tags they name, most
   first (ties keep the order written); each takes the *smallest* disk, not
   taken yet, that is large enough and carries its tags (equal sizes: lowest
   id).  This is greedy, as in 1.8: a node a cleverer assignment could
   satisfy may still be refused.
3. The node matches when every constraint found its own disk.

The answer maps each *labelled* constraint to its disk; unlabelled ones must
match but are not reported (1.8 left them out of ``constraint_map``, which
is ``{<block device id>: <label>}`` in the node's JSON).

Differences from 1.8, all on input 1.8 mishandled: a size that is not a
number (``1.2.3``) is a ``ValueError`` here rather than a 500; spaces around
tags are ignored (1.8 kept them, so ``(ssd, sata)`` could never match); an
empty tag and a label used twice are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

#: Bytes per unit of the size in a constraint (decimal gigabytes, as in 1.8).
GB = 1000**3

_CONSTRAINT = re.compile(
    r"(?:(?P<label>[a-zA-Z0-9]+):)?"  # optional label
    r"(?P<size>[0-9.]+)"  # mandatory size in GB
    r"(?:\((?P<tags>[^)]+)\))?"  # optional tags in parentheses
)
_PIECE = re.compile(r"[^,(]+(?:\([^)]*\))?")


@attrs.frozen
class StorageConstraint:
    """One ``[label:]size[(tags)]`` of the constraint; label is '' when absent."""

    label: str
    size_bytes: int
    tags: tuple[str, ...] = ()


@attrs.frozen
class StorageDevice:
    """What matching needs to know of a physical block device."""

    id: int
    size: int
    tags: tuple[str, ...] = ()


def _malformed(text: str) -> ValueError:
    return ValueError(f'Malformed storage constraint, "{text}".')


def _split(text: str) -> list[str]:
    """text split at the commas that are not inside parentheses."""
    pieces: list[str] = []
    position = 0
    while position < len(text):
        match = _PIECE.match(text, position)
        if match is None:
            raise _malformed(text)
        pieces.append(match.group())
        position = match.end()
        if position < len(text):
            if text[position] != "," or position + 1 == len(text):
                raise _malformed(text)
            position += 1
    return pieces


def parse_storage(text: str) -> list[StorageConstraint]:
    """The constraints text describes, in the order written; [] for ''.

    :raises ValueError: ``Malformed storage constraint, "<text>".`` when text
        does not follow the syntax, or a message naming the problem (an empty
        tag, a label used twice).
    """
    if text == "":
        return []
    constraints = []
    labels: set[str] = set()
    for piece in _split(text):
        match = _CONSTRAINT.fullmatch(piece)
        if match is None:
            raise _malformed(text)
        try:
            size = Decimal(match["size"])
        except InvalidOperation:
            raise _malformed(text) from None
        tags: tuple[str, ...] = ()
        if match["tags"] is not None:
            tags = tuple(tag.strip() for tag in match["tags"].split(","))
            if "" in tags:
                raise ValueError(f'Empty tag in storage constraint "{piece}".')
        label = match["label"] or ""
        if label:
            if label in labels:
                raise ValueError(f'Storage constraint label "{label}" is used twice.')
            labels.add(label)
        constraints.append(StorageConstraint(label, int(size * GB), tags))
    return constraints


def _as_device(device: Any) -> StorageDevice:
    """A :class:`StorageDevice` from one, from any object with ``id``, ``size``
    and ``tags``, or from a ``(id, name, path, size, tags)`` row as
    ``region.db.macs.list_block_devices`` returns them."""
    if isinstance(device, StorageDevice):
        return device
    if isinstance(device, Sequence) and len(device) == 5:
        device_id, _name, _path, size, tags = device
    else:
        device_id, size, tags = device.id, device.size, device.tags
    return StorageDevice(int(device_id), int(size), tuple(tags or ()))


def _fits(constraint: StorageConstraint, device: StorageDevice) -> bool:
    return device.size >= constraint.size_bytes and set(constraint.tags) <= set(device.tags)


def matching_order(constraints: Sequence[StorageConstraint]) -> list[StorageConstraint]:
    """The order 1.8 matched constraints in: the first, then the rest by
    number of tags, most first (a stable sort)."""
    head, tail = list(constraints[:1]), list(constraints[1:])
    tail.sort(key=lambda constraint: len(constraint.tags), reverse=True)
    return head + tail


def match_storage(constraints: Sequence[StorageConstraint],
                  devices: Iterable[Any]) -> dict[str, int] | None:
    """Which of a node's devices satisfy the constraints: ``{label: device id}``
    for the labelled constraints, or None when the node does not match.

    No constraints match any node (``{}``).  See the module docstring for
    the rules.
    """
    if not constraints:
        return {}
    disks = sorted((_as_device(device) for device in devices), key=lambda d: d.id)
    if not disks:
        return None
    root, *others = matching_order(constraints)
    if not _fits(root, disks[0]):
        return None
    chosen: dict[int, StorageConstraint] = {disks[0].id: root}
    by_size = sorted(disks, key=lambda d: (d.size, d.id))
    for constraint in others:
        found = next((d for d in by_size if d.id not in chosen and _fits(constraint, d)), None)
        if found is None:
            return None
        chosen[found.id] = constraint
    return {constraint.label: device_id
            for device_id, constraint in chosen.items() if constraint.label}


def constraint_map(matched: dict[str, int]) -> dict[str, str]:
    """The node JSON's ``constraint_map`` for a match: ``{"<device id>": label}``."""
    return {str(device_id): label for label, device_id in matched.items()}
