"""
``nodegroups/{uuid}/interfaces/`` and ``nodegroups/{uuid}/interfaces/{name}/``:
a cluster's interfaces (1.8's NodeGroupInterface).

Any user may read them (1.8's document gives writes, not reads, a 403);
creating, changing and deleting them is for administrators.  The rules an
interface obeys are ``region.domain.interfaces``'s; a broken one is a 400
with ``{"field": ["message"]}``.  A PUT changes only the fields it gives (a
blank value clears an optional one); the broadcast address is computed again
unless given.  Names are unique within a cluster.  The JSON has no
``router_ip`` (as 1.8), though it can be set.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.registry import ADMIN, API_PREFIX, Handler, Param
from region.api.responses import DELETED, Response
from region.db import nodegroup_interfaces as db_interfaces
from region.db import nodegroups as db_nodegroups
from region.db.nodegroup_interfaces import Interface, InterfaceExists
from region.db.nodegroups import Nodegroup
from region.db.pool import Tx
from region.domain.interfaces import (
    InterfaceErrors,
    InterfaceSettings,
    check_interface,
    check_no_overlap,
)

INTERFACES = Handler(
    "NodeGroupInterfacesHandler", "nodegroups/{uuid}/interfaces/",
    "Manage the collection of all the NodeGroupInterfaces in this MAAS.\n\nA "
    "NodeGroupInterface is a network interface attached to a cluster controller, with its "
    "network properties.")
INTERFACE = Handler(
    "NodeGroupInterfaceHandler", "nodegroups/{uuid}/interfaces/{name}/",
    "Manage a NodeGroupInterface.\n\nA NodeGroupInterface is identified by the uuid for its "
    "NodeGroup, and the name of the network interface it represents: \"eth0\" for example.")

#: The JSON keys, in 1.8's order (router_ip is writable but not shown).
JSON_FIELDS = ("name", "ip", "management", "interface", "subnet_mask", "broadcast_ip",
               "ip_range_low", "ip_range_high", "static_ip_range_low", "static_ip_range_high")

_DOCS = {
    "name": "Name for the interface; unique within the cluster (letters, digits, '-', ':', "
            "'.' and '_').  Defaults to interface.",
    "ip": "Static IP of the interface.",
    "interface": "Name of the network interface that connects the cluster controller to "
                 "this network.",
    "management": "What MAAS manages on this interface: 0 nothing, 1 DHCP, 2 DHCP and DNS.",
    "subnet_mask": "Subnet mask, e.g. 255.0.0.0.",
    "broadcast_ip": "Broadcast address for this subnet (computed when left out).",
    "router_ip": "Address of default gateway.",
    "ip_range_low": "Lowest dynamic IP address to assign to clients.",
    "ip_range_high": "Highest dynamic IP address to assign to clients.",
    "static_ip_range_low": "Lowest static IP address to assign to clients.",
    "static_ip_range_high": "Highest static IP address to assign to clients.",
}
_SETTABLE = ("name", "ip", "interface", "management", "subnet_mask", "broadcast_ip",
             "router_ip", "ip_range_low", "ip_range_high", "static_ip_range_low",
             "static_ip_range_high")


def interface_json(uuid: str, interface: Interface) -> dict[str, Any]:
    document: dict[str, Any] = {field: getattr(interface, field) for field in JSON_FIELDS}
    document["resource_uri"] = f"{API_PREFIX}nodegroups/{uuid}/interfaces/{interface.name}/"
    return document


async def _nodegroup(tx: Tx, uuid: str) -> Nodegroup:
    found = await db_nodegroups.get_by_uuid(tx, uuid)
    if found is None:
        raise NotFound()
    return found


def _checked(values: dict[str, Any]) -> InterfaceSettings:
    try:
        return check_interface(values)
    except InterfaceErrors as error:
        raise ValidationError(error.errors) from None


def _no_overlap(settings: InterfaceSettings, others: list[Interface]) -> None:
    try:
        check_no_overlap(settings, [other.settings() for other in others])
    except InterfaceErrors as error:
        raise ValidationError(error.errors) from None


def _name_taken(name: str) -> ValidationError:
    return ValidationError.field(
        "name", f"Node group interface with this name ({name}) already exists in this cluster.")


@INTERFACES.operation("GET", "list")
async def list_interfaces(ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
    """List of NodeGroupInterfaces of a NodeGroup.

    Returns 404 if the nodegroup (cluster) is not found.
    """

    async def work(tx: Tx) -> list[Interface]:
        nodegroup = await _nodegroup(tx, uuid)
        return await db_interfaces.list_for(tx, nodegroup.id)

    return [interface_json(uuid, found) for found in await ctx.db.transaction(work)]


@INTERFACES.operation("POST", "new", auth=ADMIN,
                      params=[Param(field, doc=_DOCS[field]) for field in _SETTABLE])
async def new(ctx: RequestContext, uuid: str, **values: str | None) -> dict[str, Any]:
    """Create a new NodeGroupInterface for this NodeGroup.

    Returns 404 if the node group (cluster) is not found, 400 with the
    fields at fault if the settings are not consistent.
    """
    settings = _checked(values)

    async def work(tx: Tx) -> Interface:
        nodegroup = await _nodegroup(tx, uuid)
        _no_overlap(settings, await db_interfaces.list_for(tx, nodegroup.id))
        try:
            return await db_interfaces.create(tx, nodegroup.id, settings)
        except InterfaceExists:
            raise _name_taken(settings.name) from None

    return interface_json(uuid, await ctx.db.transaction(work))


@INTERFACE.operation("GET")
async def read(ctx: RequestContext, uuid: str, name: str) -> dict[str, Any]:
    """List of NodeGroupInterfaces of a NodeGroup.

    Returns 404 if the nodegroup (cluster) or the interface is not found.
    """

    async def work(tx: Tx) -> Interface | None:
        nodegroup = await _nodegroup(tx, uuid)
        return await db_interfaces.get(tx, nodegroup.id, name)

    found = await ctx.db.transaction(work)
    if found is None:
        raise NotFound()
    return interface_json(uuid, found)


@INTERFACE.operation("PUT", auth=ADMIN, params=[
    Param(field, dest="new_name" if field == "name" else None, doc=_DOCS[field])
    for field in _SETTABLE
])
async def update(ctx: RequestContext, uuid: str, name: str, new_name: str | None,
                 **values: str | None) -> dict[str, Any]:
    """Update a specific NodeGroupInterface.

    Fields left out keep their values.  Returns 404 if the nodegroup
    (cluster) or the interface is not found, 400 with the fields at fault if
    the result would not be consistent.
    """
    given = {field: value for field, value in values.items() if value is not None}
    if new_name is not None:
        given["name"] = new_name

    async def work(tx: Tx) -> Interface:
        nodegroup = await _nodegroup(tx, uuid)
        current = await db_interfaces.get(tx, nodegroup.id, name, for_update=True)
        if current is None:
            raise NotFound()
        merged = {field: getattr(current, field) for field in _SETTABLE}
        if "broadcast_ip" not in given:
            merged["broadcast_ip"] = None  # computed again from ip and subnet_mask
        merged.update(given)
        if not given.get("name"):
            merged["name"] = current.name  # a blank name keeps the current one
        settings = _checked(merged)
        others = [other for other in await db_interfaces.list_for(tx, nodegroup.id)
                  if other.id != current.id]
        _no_overlap(settings, others)
        try:
            updated = await db_interfaces.update(tx, current.id, settings)
        except InterfaceExists:
            raise _name_taken(settings.name) from None
        assert updated is not None, "the row is locked"
        return updated

    return interface_json(uuid, await ctx.db.transaction(work))


@INTERFACE.operation("DELETE", auth=ADMIN)
async def delete(ctx: RequestContext, uuid: str, name: str) -> Response:
    """Delete a specific NodeGroupInterface.

    Returns 404 if the nodegroup (cluster) or the interface is not found,
    204 once it is deleted.
    """

    async def work(tx: Tx) -> bool:
        nodegroup = await _nodegroup(tx, uuid)
        return await db_interfaces.delete(tx, nodegroup.id, name)

    if not await ctx.db.transaction(work):
        raise NotFound()
    return DELETED
