"""``nodes/{system_id}/macs/`` and ``.../macs/{mac_address}/``: a node's MAC addresses."""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.handlers.nodes import viewer
from region.api.registry import API_PREFIX, Handler, Param
from region.api.responses import DELETED, Response
from region.db import macs as db_macs
from region.db.pool import Tx
from region.domain.macs import normalise_mac
from region.nodeops import EDIT, VIEW, load

NODE_MACS = Handler(
    "NodeMacsHandler", "nodes/{system_id}/macs/",
    "Manage MAC addresses for a given Node.\n\nThis is where you manage the MAC addresses "
    "linked to a Node, including associating a new MAC address with the Node.")
NODE_MAC = Handler(
    "NodeMacHandler", "nodes/{system_id}/macs/{mac_address}/",
    "Manage a Node MAC address.\n\nThe MAC address object is identified by the system_id "
    "for the Node it is attached to, plus the MAC address itself.")


def mac_json(system_id: str, mac: str) -> dict[str, Any]:
    return {"mac_address": mac,
            "resource_uri": f"{API_PREFIX}nodes/{system_id}/macs/{mac}/"}


def _mac(text: str, field: str) -> str:
    try:
        return normalise_mac(text)
    except ValueError as error:
        raise ValidationError.field(field, str(error)) from None


@NODE_MACS.operation("GET")
async def read(ctx: RequestContext, system_id: str) -> list[dict[str, Any]]:
    """Read all MAC addresses related to a Node.  Returns 404 if the node is not found."""

    async def work(tx: Tx) -> list[str]:
        node = await load(tx, system_id, viewer(ctx), VIEW)
        return await db_macs.list_macs(tx, node.id)

    return [mac_json(system_id, mac) for mac in await ctx.db.transaction(work)]


@NODE_MACS.operation("POST", params=[Param("mac_address", required=True)])
async def create(ctx: RequestContext, system_id: str, mac_address: str) -> dict[str, Any]:
    """Create a MAC address for a specified Node.  Returns 404 if the node is not found."""
    mac = _mac(mac_address, "mac_address")

    async def work(tx: Tx) -> None:
        node = await load(tx, system_id, viewer(ctx), EDIT, for_update=True)
        if not await db_macs.add_mac(tx, node.id, mac):
            owner = await db_macs.hostname_using(tx, mac)
            raise ValidationError.field("mac_address",
                                        f"MAC address {mac} already in use on {owner}.")

    await ctx.db.transaction(work)
    return mac_json(system_id, mac)


@NODE_MAC.operation("GET")
async def read_mac(ctx: RequestContext, system_id: str, mac_address: str) -> dict[str, Any]:
    """Read a MAC address related to a Node.

    Returns 404 if the node or the MAC address is not found.
    """
    try:
        mac = normalise_mac(mac_address)
    except ValueError:
        raise NotFound() from None

    async def work(tx: Tx) -> bool:
        node = await load(tx, system_id, viewer(ctx), VIEW)
        return await db_macs.has_mac(tx, node.id, mac)

    if not await ctx.db.transaction(work):
        raise NotFound(f"No MAC address {mac} on node {system_id}.")
    return mac_json(system_id, mac)


@NODE_MAC.operation("DELETE")
async def delete(ctx: RequestContext, system_id: str, mac_address: str) -> Response:
    """Delete a specific MAC address for the specified Node.

    Returns 404 if the node or the MAC address is not found, 204 once deleted.
    """
    try:
        mac = normalise_mac(mac_address)
    except ValueError:
        raise NotFound() from None

    async def work(tx: Tx) -> bool:
        node = await load(tx, system_id, viewer(ctx), EDIT, for_update=True)
        return await db_macs.delete_mac(tx, node.id, mac)

    if not await ctx.db.transaction(work):
        raise NotFound(f"No MAC address {mac} on node {system_id}.")
    return DELETED
