"""``zones/`` and ``zones/{name}/``: physical zones.

Any node is in a physical zone.  What a zone means is up to the
administrator (a rack, a room, a data centre); users allocate nodes from
particular zones.  Only administrators create, change or delete zones.
The ``default`` zone always exists: it cannot be renamed or deleted.
"""

from __future__ import annotations

import re
from typing import Any

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.registry import ADMIN, API_PREFIX, Handler, Param
from region.api.responses import DELETED, Response
from region.db import zones as db_zones
from region.db.pool import Tx

ZONES = Handler("ZonesHandler", "zones/", "Manage physical zones.")
ZONE = Handler(
    "ZoneHandler", "zones/{name}/",
    "Manage a physical zone.\n\nAny node is in a physical zone, or \"zone\" for short. "
    "This functionality is only available to administrators. Other users can view "
    "physical zones, but not modify them.",
)

_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def zone_json(zone: db_zones.Zone) -> dict[str, Any]:
    return {
        "name": zone.name,
        "description": zone.description,
        "resource_uri": f"{API_PREFIX}zones/{zone.name}/",
    }


def _check_name(name: str) -> None:
    if not _VALID_NAME.match(name):
        raise ValidationError.field(
            "name", "Enter a valid zone name: letters, digits, '-' and '_' only.")


def _exists_error() -> ValidationError:
    return ValidationError.field("name", "Zone with this Name already exists.")


@ZONES.operation("GET")
async def read(ctx: RequestContext) -> list[dict[str, Any]]:
    """List zones.

    Get a listing of all the physical zones.
    """
    return [zone_json(zone) for zone in await ctx.db.transaction(db_zones.list_zones)]


@ZONES.operation("POST", auth=ADMIN, params=[
    Param("name", required=True, doc="Identifier-style name for the new zone."),
    Param("description", doc="Free-form description of the new zone."),
])
async def create(ctx: RequestContext, name: str, description: str | None) -> dict[str, Any]:
    """Create a new physical zone."""
    _check_name(name)
    try:
        zone = await ctx.db.transaction(
            lambda tx: db_zones.create(tx, name, description or ""))
    except db_zones.ZoneExists:
        raise _exists_error() from None
    return zone_json(zone)


@ZONE.operation("GET")
async def read_zone(ctx: RequestContext, name: str) -> dict[str, Any]:
    """GET request.  Return zone.

    Returns 404 if the zone is not found.
    """
    zone = await ctx.db.transaction(lambda tx: db_zones.get(tx, name))
    if zone is None:
        raise NotFound()
    return zone_json(zone)


@ZONE.operation("PUT", auth=ADMIN, params=[
    Param("name", dest="new_name", doc="New name for the zone."),
    Param("description", doc="New description for the zone."),
])
async def update(
    ctx: RequestContext, name: str, new_name: str | None, description: str | None
) -> dict[str, Any]:
    """PUT request.  Update zone.

    Returns 404 if the zone is not found.
    """
    if new_name is not None:
        _check_name(new_name)

    async def change(tx: Tx) -> db_zones.Zone:
        zone = await db_zones.get(tx, name)
        if zone is None:
            raise NotFound()
        target = zone.name if new_name is None else new_name
        if zone.is_default and target != zone.name:
            raise ValidationError.field("name", "The default zone cannot be renamed.")
        text = zone.description if description is None else description
        try:
            updated = await db_zones.update(tx, name, new_name=target, description=text)
        except db_zones.ZoneExists:
            raise _exists_error() from None
        assert updated is not None
        return updated

    return zone_json(await ctx.db.transaction(change))


@ZONE.operation("DELETE", auth=ADMIN)
async def delete(ctx: RequestContext, name: str) -> Response:
    """DELETE request.  Delete zone.

    Returns 404 if the zone is not found.  Returns 204 if the zone is
    successfully deleted.
    """
    if name == db_zones.DEFAULT_ZONE_NAME:
        raise ValidationError("This zone is the default zone, it cannot be deleted.")
    if not await ctx.db.transaction(lambda tx: db_zones.delete(tx, name)):
        raise NotFound()
    return DELETED
