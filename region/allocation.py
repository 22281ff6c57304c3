"""
Acquiring a node: validate the constraints, then claim the cheapest match.

Everything happens in one transaction.  Candidates are locked with
``FOR UPDATE SKIP LOCKED`` (see region/db/allocation.py), so concurrent
acquirers never wait for one another and never get the same node.  A storage
constraint is matched in Python against each candidate's block devices,
a page of candidates at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from region.api.errors import BadRequest, ValidationError
from region.db import allocation as db_allocation
from region.db import macs as db_macs
from region.db.pool import Database, Tx
from region.domain.architectures import ArchitectureError, expand_wildcard, known_architectures
from region.domain.macs import normalise_mac
from region.domain.storage import constraint_map, match_storage, parse_storage

#: Candidates locked at a time when a storage constraint must be checked.
STORAGE_PAGE = 50


@attrs.frozen
class AcquireRequest:
    """acquire's parameters as the client gave them (every one optional)."""

    name: str | None = None
    arch: str | None = None
    cpu_count: float | None = None
    mem: float | None = None
    tags: Sequence[str] = ()
    not_tags: Sequence[str] = ()
    zone: str | None = None
    not_in_zone: Sequence[str] = ()
    connected_to: Sequence[str] = ()
    not_connected_to: Sequence[str] = ()
    storage: str | None = None
    agent_name: str | None = None

    def describe(self) -> str:
        """The constraints as ``key=value`` words, for the 409 message."""
        words = []
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if field.name == "agent_name" or value in (None, "", (), []):
                continue
            shown = ",".join(value) if isinstance(value, list | tuple) else value
            words.append(f"{field.name}={shown}")
        return " ".join(words)


def split_tags(values: Sequence[str]) -> list[str]:
    """Tags may be repeated, or comma/space separated in one value (legacy clients)."""
    return [tag for value in values for tag in value.replace(",", " ").split() if tag]


def _macs(field: str, values: Sequence[str]) -> list[str]:
    try:
        return [normalise_mac(value) for value in values]
    except ValueError as error:
        raise ValidationError.field(field, str(error)) from None


async def _constraints(tx: Tx, request: AcquireRequest) -> db_allocation.Constraints:
    tags, not_tags = split_tags(request.tags), split_tags(request.not_tags)
    missing = await db_allocation.missing_tags(tx, tags + not_tags)
    if missing:
        raise BadRequest(f"No such tag(s): {', '.join(repr(t) for t in missing)}.")
    if request.zone and await db_allocation.missing_zones(tx, [request.zone]):
        raise BadRequest(f"No such zone: '{request.zone}'.")
    missing = await db_allocation.missing_zones(tx, request.not_in_zone)
    if missing:
        raise BadRequest(f"No such zone(s): {', '.join(missing)}.")
    architectures = None
    if request.arch:
        usable = known_architectures(await db_allocation.used_architectures(tx))
        try:
            architectures = expand_wildcard(request.arch, usable)
        except ArchitectureError as error:
            raise ValidationError.field("arch", str(error)) from None
    return db_allocation.Constraints(
        name=request.name, architectures=architectures, cpu_count=request.cpu_count,
        memory=request.mem, tags=tags, not_tags=not_tags, zone=request.zone,
        not_in_zones=request.not_in_zone,
        connected_to=_macs("connected_to", request.connected_to),
        not_connected_to=_macs("not_connected_to", request.not_connected_to))


async def acquire(db: Database, request: AcquireRequest, *, user_id: int, admin: bool,
                  token_id: int | None) -> tuple[str, dict[str, str]] | None:
    """Allocate the cheapest node matching request to user_id.

    :return: (system_id, constraint_map), or None when no node matches.
    :raise ValidationError, BadRequest: for unknown tags, zones, architectures,
        malformed MACs or storage constraints.
    """
    storage = None
    if request.storage:
        try:
            storage = parse_storage(request.storage)
        except ValueError as error:
            raise ValidationError.field("storage", str(error)) from None

    async def work(tx: Tx) -> tuple[str, dict[str, str]] | None:
        constraints = await _constraints(tx, request)
        page = 1 if storage is None else STORAGE_PAGE
        offset = 0
        while True:
            candidates = await db_allocation.lock_candidates(
                tx, constraints, user_id=user_id, admin=admin, limit=page, offset=offset)
            for node_id, system_id in candidates:
                mapping: dict[str, str] = {}
                if storage is not None:
                    matched = match_storage(storage, await db_macs.list_block_devices(tx, node_id))
                    if matched is None:
                        continue
                    mapping = constraint_map(matched)
                await db_allocation.allocate(tx, node_id, owner_id=user_id, token_id=token_id,
                                             agent_name=request.agent_name or "")
                return system_id, mapping
            if len(candidates) < page:
                return None
            offset += page

    return await db.transaction(work)
