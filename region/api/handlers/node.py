"""``nodes/{system_id}/``: one node, identified by its system_id."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from region.api.context import RequestContext
from region.api.errors import Forbidden, ValidationError
from region.api.handlers.nodes import nodeops, single_json, viewer
from region.api.registry import ADMIN, Handler, Param
from region.api.responses import DELETED, RawJSON, Response
from region.db import nodes as db_nodes
from region.db import results as db_results
from region.db import zones as db_zones
from region.db.pool import Tx
from region.domain import bson
from region.domain.architectures import ArchitectureError, is_known, normalise_architecture
from region.domain.config_items import OPERATING_SYSTEMS, UBUNTU_RELEASES
from region.domain.units import parse_swap_size
from region.enlistment import check_power
from region.nodeops import ADMIN as ADMIN_PERM
from region.nodeops import EDIT, VIEW, load

NODE = Handler("NodeHandler", "nodes/{system_id}/",
               "Manage an individual Node.\n\nThe Node is identified by its system_id.")


@NODE.operation("GET")
async def read(ctx: RequestContext, system_id: str) -> RawJSON:
    """Read a specific Node.

    Returns 404 if the node is not found.
    """
    await ctx.db.transaction(lambda tx: load(tx, system_id, viewer(ctx), VIEW))
    return await single_json(ctx, system_id)


@NODE.operation("DELETE", auth=ADMIN)
async def delete(ctx: RequestContext, system_id: str) -> Response:
    """Delete a specific Node.

    Returns 404 if the node is not found, 403 if the user may not delete
    it, 204 once it is deleted.
    """

    async def work(tx: Tx) -> None:
        node = await load(tx, system_id, viewer(ctx), ADMIN_PERM, for_update=True)
        await db_nodes.delete(tx, node.id)

    await ctx.db.transaction(work)
    return DELETED


@NODE.operation("GET", "details")
async def details(ctx: RequestContext, system_id: str) -> Response:
    """Obtain various system details (lshw and LLDP XML dumps), as BSON.

    Returns a ``{detail_type: xml, ...}`` map; 404 if the node is not found.
    """

    async def work(tx: Tx) -> dict[str, bytes | None]:
        node = await load(tx, system_id, viewer(ctx), VIEW)
        return await db_results.details(tx, node.id)

    found = await ctx.db.transaction(work)
    document = {key: (None if value is None else bson.Binary(value))
                for key, value in found.items()}
    return Response(bson.encode(document), 200, "application/bson")


@NODE.operation("GET", "power_parameters", auth=ADMIN)
async def power_parameters(ctx: RequestContext, system_id: str) -> Any:
    """Obtain power parameters (admins only; they may include passwords).

    Returns 404 if the node is not found.
    """
    node = await ctx.db.transaction(lambda tx: load(tx, system_id, viewer(ctx), VIEW))
    return "" if node.power_parameters is None else node.power_parameters


@NODE.operation("POST", "commission")
async def commission(ctx: RequestContext, system_id: str) -> RawJSON:
    """Begin commissioning process for a node.

    A node that is New, Ready, Broken or Failed commissioning may be
    (re)commissioned.  Returns 404 if the node is not found.
    """
    await nodeops(ctx).commission(viewer(ctx), system_id)
    return await single_json(ctx, system_id)


@NODE.operation("POST", "start", params=[
    Param("user_data", doc="User data for the node's metadata service, base64-encoded."),
    Param("distro_series", doc="The OS release the node will use."),
    Param("license_key", doc="A license key for the OS, where one is needed."),
])
async def start(ctx: RequestContext, system_id: str, user_data: str | None,
                distro_series: str | None, license_key: str | None) -> RawJSON:
    """Power up a node.

    An allocated node starts deploying.  Returns 404 if the node is not
    found, 403 if the user may not start it, 409 if it is not allocated, and
    503 (with Retry-After) if its cluster cannot power it on now.
    """
    errors: dict[str, list[str]] = {}
    data = None
    if user_data is not None:
        try:
            data = base64.b64decode(user_data.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            errors["user_data"] = ["Enter valid base64-encoded data."]
    osystem = None
    if distro_series:
        if "/" in distro_series:
            osystem, distro_series = distro_series.split("/", 1)
        if distro_series not in UBUNTU_RELEASES or (osystem or "ubuntu") not in OPERATING_SYSTEMS:
            errors["distro_series"] = [
                f"'{distro_series}' is not a valid distro_series.  It should be one of: "
                + ", ".join(UBUNTU_RELEASES) + "."]
    if errors:
        raise ValidationError(errors)
    await nodeops(ctx).start(viewer(ctx), system_id, user_data=data, osystem=osystem,
                             distro_series=distro_series or None, license_key=license_key)
    return await single_json(ctx, system_id)


@NODE.operation("POST", "stop", params=[
    Param("stop_mode", doc="'soft' asks the OS to shut down first; anything else is hard."),
])
async def stop(ctx: RequestContext, system_id: str, stop_mode: str | None) -> RawJSON | None:
    """Shut down a node.

    Returns the node if a power-off was sent, ``null`` if its power type
    cannot stop it.  404 if the node is not found, 403 if the user may not
    stop it, 503 if its cluster cannot act now.
    """
    mode = "soft" if stop_mode == "soft" else "hard"
    if not await nodeops(ctx).stop(viewer(ctx), system_id, mode):
        return None
    return await single_json(ctx, system_id)


@NODE.operation("GET", "query_power_state")
async def query_power_state(ctx: RequestContext, system_id: str) -> dict[str, str]:
    """Query the power state of a node through its cluster.

    Returns ``{"state": "on"|"off"|...}``; 404 if the node is not found, 503
    (with a reason) if the state could not be queried.  The wait is bounded
    (45 s) and no server thread is held: other requests go on meanwhile.
    """
    node = await ctx.db.transaction(lambda tx: load(tx, system_id, viewer(ctx), VIEW))
    return {"state": await ctx.services.extras["power"].query_power_state(node)}


@NODE.operation("POST", "release")
async def release(ctx: RequestContext, system_id: str) -> RawJSON:
    """Release a node.  Opposite of NodesHandler.acquire.

    Returns 404 if the node is not found, 403 if the user may not release
    it, 409 if its state does not allow it.
    """
    await nodeops(ctx).release(viewer(ctx), system_id)
    return await single_json(ctx, system_id)


@NODE.operation("POST", "mark_broken", params=[
    Param("error_description", doc="Why the node is being marked broken."),
])
async def mark_broken(ctx: RequestContext, system_id: str,
                      error_description: str | None) -> RawJSON:
    """Mark a node as 'broken'.  If the node is allocated, release it first."""
    await nodeops(ctx).mark_broken(viewer(ctx), system_id, error_description or "")
    return await single_json(ctx, system_id)


@NODE.operation("POST", "mark_fixed")
async def mark_fixed(ctx: RequestContext, system_id: str) -> RawJSON:
    """Mark a broken node as fixed and set its status as 'ready'."""
    await nodeops(ctx).mark_fixed(viewer(ctx), system_id)
    return await single_json(ctx, system_id)


@NODE.operation("POST", "abort_operation")
async def abort_operation(ctx: RequestContext, system_id: str) -> RawJSON:
    """Abort a node's current operation (commissioning, deploying or disk erasing)."""
    await nodeops(ctx).abort_operation(viewer(ctx), system_id)
    return await single_json(ctx, system_id)


_USER_FIELDS = ("hostname", "architecture", "swap_size", "boot_type", "osystem",
                "distro_series", "license_key", "disable_ipv4")
_ADMIN_FIELDS = ("power_type", "zone", "cpu_count", "memory")


@NODE.operation("PUT", params=[
    Param("hostname"), Param("architecture"), Param("swap_size"), Param("boot_type"),
    Param("osystem"), Param("distro_series"), Param("license_key"), Param("disable_ipv4"),
    Param("power_type"), Param("zone"), Param("cpu_count"), Param("memory"),
    Param("power_parameters_skip_check"),
])
async def update(ctx: RequestContext, system_id: str, **args: Any) -> RawJSON:
    """Update a specific Node.

    Fields not given keep their values.  Power settings (``power_type`` and
    ``power_parameters_<name>``), zone, cpu_count and memory are for admins.
    Returns 404 if the node is not found, 403 if the user may not update it.
    """
    given = {name: value for name, value in args.items() if name in ctx.params}
    power_fields = {name[len("power_parameters_"):]: value
                    for name, value in ctx.params.items()
                    if name.startswith("power_parameters_")
                    and name != "power_parameters_skip_check"}
    if not ctx.is_admin and (set(given) & set(_ADMIN_FIELDS) or power_fields):
        raise Forbidden("Only administrators may change power settings, zone, CPU count "
                        "or memory.")
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if "architecture" in given:
        try:
            architecture = normalise_architecture(given["architecture"], None)
            if not is_known(architecture, ()):
                raise ArchitectureError(f"'{architecture}' is not a valid architecture.")
            changes["architecture"] = architecture
        except ArchitectureError as error:
            errors["architecture"] = [str(error)]
    if "swap_size" in given:
        try:
            changes["swap_size"] = parse_swap_size(given["swap_size"]) if given["swap_size"] \
                else None
        except ValueError as error:
            errors["swap_size"] = [str(error)]
    if "boot_type" in given:
        if given["boot_type"] not in ("fastpath", "di"):
            errors["boot_type"] = [f"'{given['boot_type']}' is not fastpath or di."]
        changes["boot_type"] = given["boot_type"]
    for name in ("cpu_count", "memory"):
        if name in given:
            try:
                changes[name] = int(given[name])
                if changes[name] < 0:
                    raise ValueError
            except ValueError:
                errors[name] = ["Enter a whole number, 0 or more."]
    for name in ("osystem", "distro_series", "license_key"):
        if name in given:
            changes[name] = given[name]
    if "disable_ipv4" in given:
        changes["disable_ipv4"] = given["disable_ipv4"].strip().lower() not in ("", "0", "false")
    if "hostname" in given and not given["hostname"].strip():
        errors["hostname"] = ["This field cannot be blank."]
    if errors:
        raise ValidationError(errors)
    skip_check = (args["power_parameters_skip_check"] or "").lower() == "true"

    async def work(tx: Tx) -> None:
        node = await load(tx, system_id, viewer(ctx), EDIT, for_update=True)
        if "hostname" in given:
            hostname = given["hostname"].strip()
            domain = await tx.fetchval("SELECT name FROM nodegroups WHERE id = %(id)s",
                                       {"id": node.nodegroup_id})
            fqdn = hostname if "." in hostname else f"{hostname}.{domain}"
            if await db_nodes.hostname_taken(tx, hostname, fqdn, exclude=node.id):
                raise ValidationError.field("hostname", f"Node with FQDN '{fqdn}' already exists.")
            changes["hostname"] = hostname
        if "zone" in given:
            zone = await db_zones.get(tx, given["zone"])
            if zone is None:
                raise ValidationError.field("zone", f"No such zone: '{given['zone']}'.")
            changes["zone_id"] = zone.id
        if "power_type" in given or power_fields:
            power_type = given.get("power_type", node.power_type) or ""
            same_type = power_type == node.power_type
            params = dict(node.power_parameters or {}) if same_type else {}
            params.update(power_fields)
            changes["power_type"] = power_type
            if skip_check:
                changes["power_parameters"] = params
            else:
                changes["power_parameters"] = check_power(power_type, params) or (
                    {} if power_type else None)
        await db_nodes.update(tx, node.id, **changes)

    await ctx.db.transaction(work)
    return await single_json(ctx, system_id)
