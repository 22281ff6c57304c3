"""
What the region does when a cluster asks: the domain behind the responders.

Each function runs its own transaction(s) through ``region/db`` and
``region/nodeops``, and raises the errors its command declares
(``rpc.errors``).  Bad input for which a command declares no error is
answered with :func:`bad_argument`: a non-fatal AMP error coded
``InvalidArgument`` whose text says what was wrong (the cluster sees an
``UnknownRemoteError`` carrying that text), rather than a logged bug.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import netaddr
from twisted.logger import Logger
from twisted.protocols import amp

from power.registry import is_queryable, power_type_names
from region.api.errors import APIError, Conflict, NotFound, ValidationError
from region.db import config as db_config
from region.db import events as db_events
from region.db import nodegroups as db_nodegroups
from region.db import nodes as db_nodes
from region.db import power as db_power
from region.db import users as db_users
from region.db.nodes import Node
from region.db.pool import Database, Tx
from region.domain.config_items import ITEMS
from region.domain.lifecycle import NodeStateViolation as StateMachineViolation
from region.domain.lifecycle import NodeStatus, display, failed_status
from region.domain.macs import normalise_mac
from region.domain.power_parameters import effective_power_parameters
from region.enlistment import Enlistment, enlist
from region.nodeops import NodeOps, Viewer, change_status
from rpc.arguments import MAX_VALUE_LENGTH, encoded_size, fitting_prefix
from rpc.commands.region import ListNodePowerParameters
from rpc.errors import (
    CommissionNodeFailed,
    NodeAlreadyExists,
    NodeStateViolation,
    NoSuchCluster,
    NoSuchEventType,
    NoSuchNode,
    PayloadTooLarge,
    bad_argument,
)

log = Logger(namespace="region.rpc.clusterops")

# -- Power monitoring --------------------------------------------------------


@attrs.frozen
class PowerMonitorPolicy:
    """
    How ListNodePowerParameters picks nodes (1.8 refreshed every 5 minutes).

    With ``refresh`` at 60 s a cluster that keeps up re-reads every node about
    once a minute, so no state is older than ~2 minutes even when a cluster
    falls behind by a whole refresh; transitional nodes are re-read after
    ``transitional_refresh`` and handed out before the others, so that,
    with the cluster's listing interval and a 2 s BMC, they are at most ~10 s old.
    """

    #: Seconds after which a node's power state is queried again.
    refresh: float = 60.0
    #: The same, for nodes in a transitional status (TRANSITIONAL_STATUSES).
    transitional_refresh: float = 4.0
    #: Seconds before a node handed out but never reported is handed out again.
    lease: float = 300.0
    #: Most nodes considered per call (the answer is then cut to fit 64 KiB).
    batch: int = 1000


#: The policy when none is given.
DEFAULT_POWER_POLICY = PowerMonitorPolicy()

_NODES_ARGUMENT: amp.Argument = dict(ListNodePowerParameters.response)[b"nodes"]
#: Statuses in which a node's power is expected to change soon: RELEASING (waiting
#: to be off, then READY), COMMISSIONING and DEPLOYING (just started; they power
#: off or reboot on their own), DISK_ERASING (powers off when done).
TRANSITIONAL_STATUSES = tuple(int(status) for status in (
    NodeStatus.RELEASING, NodeStatus.COMMISSIONING, NodeStatus.DEPLOYING,
    NodeStatus.DISK_ERASING))


def _power_entry(candidate: db_power.PowerCandidate) -> dict[str, Any]:
    return {
        "system_id": candidate.system_id,
        "hostname": candidate.hostname,
        "power_state": candidate.power_state,
        "power_type": candidate.power_type,
        "context": effective_power_parameters(
            system_id=candidate.system_id, power_type=candidate.power_type,
            power_parameters=candidate.power_parameters, status=candidate.status,
            primary_mac=candidate.primary_mac),
    }


def page_of(entries: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The longest prefix of entries that fits one AMP value, and the system_ids of
    entries too large to send at all (dropped)."""
    sendable: list[dict[str, Any]] = []
    too_large: list[str] = []
    for entry in entries:
        try:
            fits = encoded_size(_NODES_ARGUMENT, [entry]) <= MAX_VALUE_LENGTH
        except PayloadTooLarge:  # one of its values alone is over the limit
            fits = False
        if fits:
            sendable.append(entry)
        else:
            too_large.append(entry["system_id"])
    return fitting_prefix(_NODES_ARGUMENT, sendable), too_large


async def list_power_parameters(db: Database, uuid: str,
                                policy: PowerMonitorPolicy = DEFAULT_POWER_POLICY,
                                ) -> list[dict[str, Any]]:
    """
    The next nodes of cluster uuid whose power state should be queried, most
    urgent first, as many as fit in one answer; each is then not handed out
    again until it is reported or ``policy.lease`` passes.
    """
    query = db_power.DueQuery(
        power_types=[name for name in power_type_names(include_extra=True)
                     if is_queryable(name)],
        excluded_statuses=[int(NodeStatus.BROKEN)],
        transitional_statuses=TRANSITIONAL_STATUSES,
        age=policy.refresh, transitional_age=policy.transitional_refresh,
        lease=policy.lease, limit=policy.batch)

    async def work(tx: Tx) -> list[dict[str, Any]]:
        nodegroup_id = await db_nodes.nodegroup_id(tx, uuid)
        if nodegroup_id is None:
            raise NoSuchCluster.from_uuid(uuid)
        candidates = await db_power.due_for_query(tx, nodegroup_id, query)
        by_system_id = {candidate.system_id: candidate for candidate in candidates}
        page, too_large = page_of([_power_entry(candidate) for candidate in candidates])
        for system_id in too_large:
            log.warn("Node {system_id}'s power parameters are too large to send to its "
                     "cluster; its power state cannot be monitored", system_id=system_id)
        handed = [by_system_id[entry["system_id"]].id for entry in page]
        handed += [by_system_id[system_id].id for system_id in too_large]
        await db_power.mark_listed(tx, handed)
        return page

    return await db.transaction(work)


def check_power_state(state: str, system_id: str | None = None) -> None:
    """Refuse (a typed argument error) what is not a power state."""
    if state not in db_power.POWER_STATES:
        node = "" if system_id is None else f" (for {system_id[:80]})"
        raise bad_argument(f"{state[:40]!r}{node} is not a power state; expected one of "
                           f"{', '.join(sorted(db_power.POWER_STATES))}.")


async def release_if_off(tx: Tx, node: Node, state: str) -> None:
    """A RELEASING node seen off has finished releasing: it becomes READY."""
    if state == "off" and node.status == NodeStatus.RELEASING:
        await change_status(tx, node, NodeStatus.READY)
        log.info("{system_id} is off; released", system_id=node.system_id)


async def record_power_state(tx: Tx, system_id: str, state: str) -> None:
    """Record a node's observed power state; a RELEASING node seen off becomes READY."""
    check_power_state(state)
    node = await db_nodes.get(tx, system_id, for_update=True)
    if node is None:
        raise NoSuchNode.from_system_id(system_id)
    await db_power.record_state(tx, node.id, state)
    await release_if_off(tx, node, state)


async def update_power_state(db: Database, system_id: str, state: str) -> None:
    await db.transaction(lambda tx: record_power_state(tx, system_id, state))


#: The oldest observation a batch may report, in seconds (older ages are capped).
MAX_REPORTED_AGE = 3600.0


async def update_power_states(db: Database, uuid: str,
                              states: Sequence[Mapping[str, Any]]) -> list[str]:
    """
    Record the power states cluster uuid observed (UpdateNodePowerStates), in
    one transaction; return the system_ids that are not that cluster's nodes.

    Each state is dated ``age`` milliseconds before now, and ignored when the
    node already has a newer one.  A RELEASING node seen off becomes READY, as
    with UpdateNodePowerState.  One bad state refuses the whole call, before
    anything is written.
    """
    observed: dict[str, db_power.ObservedState] = {}
    for entry in states:
        state, system_id = str(entry["power_state"]), str(entry["system_id"])
        check_power_state(state, system_id)
        age = min(max(0, int(entry["age"])) / 1000.0, MAX_REPORTED_AGE)
        known = observed.get(system_id)
        if known is None or age <= known.age:  # the latest observation wins
            observed[system_id] = db_power.ObservedState(system_id, state, age)

    async def work(tx: Tx) -> list[str]:
        nodegroup_id = await db_nodes.nodegroup_id(tx, uuid)
        if nodegroup_id is None:
            raise NoSuchCluster.from_uuid(uuid)
        result = await db_power.record_states(tx, nodegroup_id, list(observed.values()))
        released = [system_id for _, system_id, status in result.recorded
                    if status == NodeStatus.RELEASING and observed[system_id].state == "off"]
        if released:  # only those whole nodes are loaded, in one query
            for node in await db_nodes.get_many(tx, released, for_update=True):
                await release_if_off(tx, node, observed[node.system_id].state)
        return result.unknown

    if not observed:
        return []
    return await db.transaction(work)


# -- Events ------------------------------------------------------------------


async def _record_event(tx: Tx, system_id: str | None, type_name: str, description: str,
                        missing: NoSuchNode) -> None:
    if not await db_events.type_exists(tx, type_name):
        raise NoSuchEventType.from_name(type_name)
    if system_id is None or not await db_events.record(tx, system_id, type_name, description):
        raise missing


async def send_event(db: Database, system_id: str, type_name: str, description: str) -> None:
    await db.transaction(lambda tx: _record_event(
        tx, system_id, type_name, description, NoSuchNode.from_system_id(system_id)))


async def send_event_mac(db: Database, mac_address: str, type_name: str,
                         description: str) -> None:
    missing = NoSuchNode.from_mac_address(mac_address)
    try:
        mac = normalise_mac(mac_address)
    except ValueError:
        raise missing from None

    async def work(tx: Tx) -> None:
        system_id = await db_power.system_id_by_mac(tx, mac)
        await _record_event(tx, system_id, type_name, description, missing)

    await db.transaction(work)


async def register_event_type(db: Database, name: str, description: str, level: int) -> None:
    if not name:
        raise bad_argument("An event type needs a name.")
    await db.transaction(lambda tx: db_events.register_type(tx, name, description, level))


# -- Node lifecycle ------------------------------------------------------------


async def mark_failed(nodeops: NodeOps, system_id: str, error_description: str) -> None:
    try:
        await nodeops.mark_failed(system_id, error_description)
    except NotFound:
        raise NoSuchNode.from_system_id(system_id) from None
    except (Conflict, StateMachineViolation) as error:
        raise NodeStateViolation(str(error)) from None


async def monitor_expired(db: Database, system_id: str, context: Any) -> bool:
    """
    A deadline set with StartMonitors passed: if the node is still in the
    status the monitor watched, mark it failed with 1.8's message
    (``Node operation '<Status>' timed out after <h:mm:ss>.``).  Returns True
    if the node was marked failed.
    """
    if not isinstance(context, dict) or "node_status" not in context:
        raise bad_argument("MonitorExpired needs a context with node_status and timeout.")
    try:
        watched = int(context["node_status"])
        timeout = float(context.get("timeout", 0))
    except (TypeError, ValueError):
        raise bad_argument("MonitorExpired: node_status and timeout must be numbers.") from None

    async def work(tx: Tx) -> bool:
        node = await db_nodes.get(tx, system_id, for_update=True)
        if node is None or node.status != watched:
            return False  # deleted, or moved on: the monitor is moot
        try:
            failed = failed_status(NodeStatus(node.status))
        except StateMachineViolation:
            return False
        if failed is None:
            return False
        elapsed = datetime.timedelta(seconds=int(timeout))
        await change_status(tx, node, failed, error=(
            f"Node operation '{display(node.status)}' timed out after {elapsed}."))
        return True

    marked = await db.transaction(work)
    if marked:
        log.info("{system_id}: its monitor expired; marked failed", system_id=system_id)
    return marked


async def create_node(db: Database, *, cluster_uuid: str, architecture: str, power_type: str,
                      power_parameters: str, mac_addresses: Sequence[str],
                      hostname: str | None) -> str:
    """
    Enlist a node the cluster found, as an administrator would (power
    settings allowed); it stays NEW until someone accepts or commissions it
    (the cluster's ``accept_all`` sends CommissionNode).  Returns its system_id.
    """
    try:
        params = json.loads(power_parameters) if power_parameters.strip() else {}
    except ValueError:
        raise bad_argument("power_parameters is not valid JSON.") from None
    if not isinstance(params, dict):
        raise bad_argument("power_parameters must be a JSON object.")
    try:
        macs = [normalise_mac(mac) for mac in mac_addresses]
    except ValueError as error:
        raise bad_argument(str(error)) from None

    async def work(tx: Tx) -> str:
        nodegroup_id = await db_nodes.nodegroup_id(tx, cluster_uuid)
        if nodegroup_id is None:
            raise bad_argument(f"There is no cluster {cluster_uuid}.")
        taken = await db_nodes.macs_in_use(tx, macs)
        if taken:
            raise NodeAlreadyExists(
                "Node with MAC address(es) " + ", ".join(sorted(taken)) + " already exists.")
        try:
            node = await enlist(tx, Enlistment(
                mac_addresses=macs, architecture=architecture, hostname=hostname,
                power_type=power_type, power_parameters=params, nodegroup_id=nodegroup_id),
                owner_id=None)
        except ValidationError as error:
            raise bad_argument(error.message) from None
        return node.system_id

    system_id = await db.transaction(work)
    log.info("Cluster {uuid} enlisted node {system_id}", uuid=cluster_uuid, system_id=system_id)
    return system_id


async def commission_node(db: Database, nodeops: NodeOps, system_id: str, user: str) -> None:
    """Start commissioning on behalf of user (by username), with that user's rights."""
    found = await db.transaction(lambda tx: db_users.get_by_username(tx, user))
    if found is None or not found.is_active:
        raise CommissionNodeFailed(f"No active user called {user!r}.")
    try:
        await nodeops.commission(Viewer(found.id, found.is_superuser), system_id)
    except (APIError, StateMachineViolation) as error:
        # Includes a power-on failure after the commit (ClusterUnavailable, a 503).
        raise CommissionNodeFailed(str(error) or type(error).__name__) from None


# -- Boot and node information -------------------------------------------------


def boot_purpose(node: db_nodes.Node) -> str:
    """1.8's ``get_boot_purpose``."""
    status = NodeStatus(node.status)
    if status in (NodeStatus.COMMISSIONING, NodeStatus.DISK_ERASING):
        return "commissioning"
    if status == NodeStatus.DEPLOYING:
        if not node.netboot:
            return "local"
        return "xinstall" if node.boot_type == "fastpath" else "install"
    if status == NodeStatus.DEPLOYED:
        return "local"
    return "poweroff"


async def node_info_by_mac(db: Database, mac_address: str) -> dict[str, Any]:
    missing = NoSuchNode.from_mac_address(mac_address)
    try:
        mac = normalise_mac(mac_address)
    except ValueError:
        raise missing from None

    async def work(tx: Tx) -> db_nodes.Node | None:
        system_id = await db_power.system_id_by_mac(tx, mac)
        return None if system_id is None else await db_nodes.get(tx, system_id)

    node = await db.transaction(work)
    if node is None:
        raise missing
    return {"system_id": node.system_id, "hostname": node.hostname, "status": node.status,
            "boot_type": node.boot_type, "osystem": node.osystem,
            "distro_series": node.distro_series, "architecture": node.architecture,
            "purpose": boot_purpose(node)}


def boot_sources(maas_url: str, *, with_os: bool) -> list[dict[str, Any]]:
    """The region's own simplestreams mirror, with no selections (as 1.8)."""
    del with_os  # no selections, so nothing differs
    return [{"url": maas_url.rstrip("/") + "/images-stream/streams/v1/index.json",
             "keyring_data": b"", "selections": []}]


async def _config_values(db: Database, names: Sequence[str]) -> dict[str, Any]:
    stored = await db.transaction(lambda tx: db_config.get_many(tx, names))
    return {name: stored.get(name, ITEMS[name].default_value()) for name in names}


async def archive_mirrors(db: Database) -> dict[str, str]:
    values = await _config_values(db, ["main_archive", "ports_archive"])
    return {"main": str(values["main_archive"]), "ports": str(values["ports_archive"])}


async def proxies(db: Database) -> dict[str, str]:
    """``http_proxy`` for both HTTP and HTTPS, when set (as 1.8)."""
    proxy = (await _config_values(db, ["http_proxy"]))["http_proxy"]
    return {"http": proxy, "https": proxy} if proxy else {}


# -- What clusters report about their networks ---------------------------------


async def cluster_interfaces(db: Database, uuid: str) -> list[dict[str, str]]:
    """The cluster's interfaces as it last reported them (an empty list if unknown)."""
    found = await db.transaction(lambda tx: db_nodegroups.get_by_uuid(tx, uuid))
    if found is None:
        return []
    return [{"name": network["interface"], "interface": network["interface"],
             "ip": network["ip"]} for network in found.reported_networks]


async def update_leases(db: Database, uuid: str, mappings: Sequence[Mapping[str, str]]) -> int:
    """Replace the cluster's DHCP leases; return how many were stored."""
    leases: dict[str, str] = {}
    for mapping in mappings:
        try:
            ip = str(netaddr.IPAddress(str(mapping["ip"])))
            leases[ip] = normalise_mac(str(mapping["mac"]))
        except (KeyError, ValueError, netaddr.AddrFormatError):
            raise bad_argument(
                "UpdateLeases: every mapping needs a valid ip and a valid mac.") from None

    async def work(tx: Tx) -> None:
        found = await db_nodegroups.get_by_uuid(tx, uuid)
        if found is None:
            raise NoSuchCluster.from_uuid(uuid)
        await db_nodegroups.replace_leases(tx, found.id, sorted(leases.items()))

    await db.transaction(work)
    return len(leases)


async def report_foreign_dhcp(db: Database, uuid: str, interface_name: str,
                              foreign_dhcp_ip: str | None) -> None:
    """Record the DHCP server not run by MAAS that the cluster saw on an interface
    (forgotten when foreign_dhcp_ip is absent)."""
    if foreign_dhcp_ip is not None:
        try:
            foreign_dhcp_ip = str(netaddr.IPAddress(foreign_dhcp_ip))
        except (netaddr.AddrFormatError, ValueError):
            raise bad_argument(f"{foreign_dhcp_ip[:60]!r} is not an IP address.") from None
    await db.transaction(lambda tx: db_nodegroups.set_foreign_dhcp(
        tx, uuid, interface_name, foreign_dhcp_ip))
