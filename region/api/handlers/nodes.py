"""``nodes/``: the collection of all the nodes in the MAAS."""

from __future__ import annotations

import json
from typing import Any

from region.allocation import AcquireRequest
from region.allocation import acquire as allocate_node
from region.api.context import RequestContext
from region.api.errors import BadRequest, Conflict, Forbidden, Unauthorized, ValidationError
from region.api.registry import ADMIN, ANONYMOUS, BOOL, FLOAT, Handler, Param
from region.api.responses import RawJSON
from region.db import allocation
from region.db import nodes as db_nodes
from region.db import zones as db_zones
from region.db.pool import Tx
from region.domain.lifecycle import NodeStatus, deployment_status_label
from region.domain.macs import normalise_mac
from region.domain.units import parse_swap_size
from region.enlistment import Enlistment, enlist
from region.nodeops import NodeOps, Viewer

NODES = Handler("NodesHandler", "nodes/", "Manage the collection of all the nodes in the MAAS.")

#: 1.8 ran check_commissioning against a 60-minute timeout.
COMMISSIONING_TIMEOUT_MINUTES = 60


def viewer(ctx: RequestContext) -> Viewer:
    return Viewer(ctx.user.id if ctx.user else None, ctx.is_admin)


def nodeops(ctx: RequestContext) -> NodeOps:
    ops: NodeOps = ctx.services.extras["nodeops"]
    return ops


def _macs(values: list[str], field: str = "mac_address") -> list[str]:
    good, bad = [], []
    for value in values:
        try:
            good.append(normalise_mac(value))
        except ValueError:
            bad.append(value)
    if bad:
        raise ValidationError(f"Invalid MAC address(es): {', '.join(bad)}")
    return good


async def nodes_json(ctx: RequestContext, system_ids: list[str]) -> RawJSON:
    """The JSON of the given nodes as the caller sees them (in id order)."""
    if not system_ids:
        return RawJSON(b"[]")
    text = await ctx.db.transaction(lambda tx: db_nodes.list_json(
        tx, user_id=None, admin=True, filters=db_nodes.NodeFilter(system_ids=system_ids)))
    return RawJSON(text.encode("utf-8"))


@NODES.operation("GET", "list", params=[
    Param("id", multiple=True, doc="System ids of nodes to list."),
    Param("hostname", multiple=True, doc="Hostnames of nodes to list."),
    Param("mac_address", multiple=True, doc="MAC addresses of nodes to list."),
    Param("zone", doc="Only nodes in this zone."),
    Param("agent_name", doc="Only nodes with this agent name."),
])
async def list_nodes(ctx: RequestContext, id: list[str], hostname: list[str],
                     mac_address: list[str], zone: str | None,
                     agent_name: str | None) -> RawJSON:
    """List all nodes."""
    filters = db_nodes.NodeFilter(system_ids=id, hostnames=hostname, macs=_macs(mac_address),
                                  zone=zone, agent_name=agent_name)
    me = viewer(ctx)
    text = await ctx.db.transaction(lambda tx: db_nodes.list_json(
        tx, user_id=me.user_id, admin=me.admin, filters=filters))
    return RawJSON(text.encode("utf-8"))


@NODES.operation("GET", "list_allocated", params=[Param("id", multiple=True)])
async def list_allocated(ctx: RequestContext, id: list[str]) -> RawJSON:
    """Fetch Nodes that were allocated to the User/oauth token."""
    if ctx.token is None:
        raise Unauthorized("No authorization header received.")
    token_id = ctx.token.id
    text = await ctx.db.transaction(lambda tx: db_nodes.list_allocated_json(tx, token_id, id))
    return RawJSON(text.encode("utf-8"))


@NODES.operation("GET", "deployment_status", params=[
    Param("nodes", multiple=True, doc="System ids of the nodes to report on (mandatory)."),
])
async def deployment_status(ctx: RequestContext, nodes: list[str]) -> dict[str, str]:
    """Retrieve deployment status for multiple nodes."""
    if not nodes:
        raise BadRequest("No provided nodes!")

    async def work(tx: Tx) -> dict[str, str]:
        unknown = await db_nodes.unknown_system_ids(tx, nodes)
        if unknown:
            raise BadRequest(f"Unknown node(s): {', '.join(unknown)}.")
        found = await db_nodes.get_many(tx, nodes)
        me = viewer(ctx)
        visible = [n for n in found if me.admin or n.owner_id in (None, me.user_id)]
        if not visible:
            raise Forbidden("You do not have permission to view any of these nodes.")
        return {n.system_id: deployment_status_label(NodeStatus(n.status)) for n in visible}

    return await ctx.db.transaction(work)


@NODES.operation("GET", "power_parameters", auth=ADMIN, params=[Param("id", multiple=True)])
async def power_parameters(ctx: RequestContext, id: list[str]) -> dict[str, Any]:
    """Retrieve power parameters for multiple nodes (admins only; includes secrets)."""
    return await ctx.db.transaction(lambda tx: db_nodes.power_parameters(tx, id))


@NODES.operation("GET", "is_registered", auth=ANONYMOUS, params=[
    Param("mac_address", required=True),
])
async def is_registered(ctx: RequestContext, mac_address: str) -> bool:
    """Whether a MAC address belongs to a node that is not retired (used by enlistment)."""
    [mac] = _macs([mac_address])
    hostname_status = await ctx.db.transaction(lambda tx: tx.fetchval(
        "SELECT n.status FROM macaddresses m JOIN nodes n ON n.id = m.node_id "
        "WHERE m.mac = %(mac)s", {"mac": mac}))
    return hostname_status is not None and hostname_status != NodeStatus.RETIRED


@NODES.operation("POST", "new", auth=ANONYMOUS, params=[
    Param("architecture"), Param("subarchitecture"),
    Param("mac_addresses", multiple=True), Param("hostname"),
    Param("power_type"), Param("power_parameters"),
    Param("autodetect_nodegroup"), Param("nodegroup"),
    Param("boot_type"), Param("osystem"), Param("distro_series"), Param("license_key"),
    Param("disable_ipv4", BOOL), Param("swap_size"), Param("zone"),
])
async def new(ctx: RequestContext, **args: Any) -> RawJSON:
    """Create a new Node.

    Anonymous and non-admin enlistments are held in the New state for an
    admin to accept; an admin's enlistment starts commissioning at once.
    """
    if args["nodegroup"] is None and "autodetect_nodegroup" not in ctx.params:
        raise BadRequest(
            "'autodetect_nodegroup' must be specified if 'nodegroup' parameter missing")
    power_parameters = None
    if args["power_parameters"]:
        try:
            power_parameters = json.loads(args["power_parameters"])
        except ValueError:
            raise BadRequest("Failed to parse JSON power_parameters") from None
        if not isinstance(power_parameters, dict):
            raise BadRequest("power_parameters must be a JSON object")
    swap_size = None
    if args["swap_size"]:
        try:
            swap_size = parse_swap_size(args["swap_size"])
        except ValueError as error:
            raise ValidationError.field("swap_size", str(error)) from None
    boot_type = args["boot_type"]
    if boot_type not in (None, "", "fastpath", "di"):
        raise ValidationError.field("boot_type", f"'{boot_type}' is not fastpath or di.")
    admin = ctx.is_admin

    async def work(tx: Tx) -> tuple[str, Any]:
        nodegroup_id = None
        if args["nodegroup"]:
            nodegroup_id = await db_nodes.nodegroup_id(tx, args["nodegroup"])
            if nodegroup_id is None:
                raise ValidationError.field("nodegroup", "No such cluster.")
        zone_id = None
        if args["zone"] and admin:
            zone = await db_zones.get(tx, args["zone"])
            if zone is None:
                raise ValidationError.field("zone", f"No such zone: '{args['zone']}'.")
            zone_id = zone.id
        node = await enlist(tx, Enlistment(
            mac_addresses=args["mac_addresses"], architecture=args["architecture"],
            subarchitecture=args["subarchitecture"], hostname=args["hostname"],
            power_type=args["power_type"] or "", power_parameters=power_parameters,
            nodegroup_id=nodegroup_id, boot_type=boot_type, osystem=args["osystem"] or "",
            distro_series=args["distro_series"] or "", license_key=args["license_key"] or "",
            disable_ipv4=bool(args["disable_ipv4"]), swap_size=swap_size, zone_id=zone_id,
        ), owner_id=None, extra_architectures=await allocation.used_architectures(tx))
        return node.system_id, node

    system_id, _ = await ctx.db.transaction(work)
    if admin:
        await nodeops(ctx).accept(viewer(ctx), [system_id])
    return await single_json(ctx, system_id)


async def single_json(ctx: RequestContext, system_id: str) -> RawJSON:
    text = await ctx.db.transaction(lambda tx: db_nodes.get_json(tx, system_id))
    assert text is not None
    return RawJSON(text.encode("utf-8"))


@NODES.operation("POST", "accept", auth=ANONYMOUS, params=[Param("nodes", multiple=True)])
async def accept(ctx: RequestContext, nodes: list[str]) -> list[str]:
    """Accept declared nodes into the MAAS.

    Returns the system_ids of the nodes whose status changed (nodes already
    accepted are left out).  Returns 400 if any of the nodes do not exist,
    403 if the user is not an admin.
    """
    if ctx.user is None:
        raise Unauthorized("You must be logged in to accept nodes.")
    if not ctx.is_admin:
        raise Forbidden("You don't have the required permission to accept nodes.")
    return await nodeops(ctx).accept(viewer(ctx), nodes)


@NODES.operation("POST", "accept_all", auth=ADMIN)
async def accept_all(ctx: RequestContext) -> RawJSON:
    """Accept all declared nodes into the MAAS; returns the nodes that changed."""
    return await nodes_json(ctx, await nodeops(ctx).accept_all(viewer(ctx)))


@NODES.operation("POST", "check_commissioning", auth=ADMIN)
async def check_commissioning(ctx: RequestContext) -> RawJSON:
    """Check all commissioning nodes to see if they are taking too long.

    Anything commissioning for longer than 60 minutes is moved to the
    Failed commissioning status; the nodes moved are returned.
    """
    failed = await ctx.db.transaction(lambda tx: db_nodes.fail_stale_commissioning(
        tx, COMMISSIONING_TIMEOUT_MINUTES, int(NodeStatus.COMMISSIONING),
        int(NodeStatus.FAILED_COMMISSIONING)))
    return await nodes_json(ctx, failed)


@NODES.operation("POST", "release", params=[Param("nodes", multiple=True)])
async def release(ctx: RequestContext, nodes: list[str]) -> list[str]:
    """Release multiple nodes; returns the system_ids of those whose status changed."""
    return await nodeops(ctx).release_many(viewer(ctx), nodes)


@NODES.operation("POST", "set_zone", auth=ADMIN, params=[
    Param("zone", doc="Zone name (the default zone if omitted)."),
    Param("nodes", multiple=True),
])
async def set_zone(ctx: RequestContext, zone: str | None, nodes: list[str]) -> None:
    """Assign multiple nodes to a physical zone at once."""

    async def work(tx: Tx) -> None:
        target = await db_zones.get(tx, zone or db_zones.DEFAULT_ZONE_NAME)
        if target is None:
            raise ValidationError.field("zone", f"No such zone: '{zone}'.")
        unknown = await db_nodes.unknown_system_ids(tx, nodes)
        if unknown:
            raise BadRequest(f"Unknown node(s): {', '.join(unknown)}.")
        await db_nodes.set_zone(tx, nodes, target.id)

    await ctx.db.transaction(work)


ACQUIRE_PARAMS = [
    Param("name", doc="Hostname of the returned node."),
    Param("arch", doc="Architecture (e.g. 'i386/generic', 'amd64', 'armhf/highbank')."),
    Param("cpu_count", FLOAT, doc="The minimum number of CPUs."),
    Param("mem", FLOAT, doc="The minimum amount of memory, in MB."),
    Param("tags", multiple=True, doc="Tags the node must have."),
    Param("not_tags", multiple=True, doc="Tags the node must not have."),
    Param("zone", doc="The physical zone the node must be in."),
    Param("not_in_zone", multiple=True, doc="Zones the node must not be in."),
    Param("connected_to", multiple=True, doc="MACs of routers the node must be connected to."),
    Param("not_connected_to", multiple=True, doc="MACs of routers it must not be connected to."),
    Param("storage", doc="Disks: comma-separated [label:]size[(tag,...)] (sizes in GB)."),
    Param("agent_name", doc="An agent name to attach to the acquired node."),
]


@NODES.operation("POST", "acquire", params=ACQUIRE_PARAMS)
async def acquire(ctx: RequestContext, **args: Any) -> RawJSON:
    """Acquire an available node for deployment.

    All constraints are optional and combined with AND; the cheapest
    matching node (fewest CPUs and least memory) is chosen.  Returns 409 if
    no node matches.
    """
    assert ctx.user is not None
    request = AcquireRequest(**args)
    chosen = await allocate_node(ctx.db, request, user_id=ctx.user.id, admin=ctx.is_admin,
                                 token_id=ctx.token.id if ctx.token else None)
    if chosen is None:
        described = request.describe()
        raise Conflict(f"No available node matches constraints: {described}"
                       if described else "No node available.")
    system_id, constraint_map = chosen
    document = json.loads(await ctx.db.transaction(lambda tx: db_nodes.get_json(tx, system_id)))
    document["constraint_map"] = constraint_map
    return RawJSON(json.dumps(document).encode("utf-8"))
