"""
Enlisting a node (``nodes op=new``, and the cluster's hardware probes).

The rules are 1.8's: MAC addresses are required and must be free, the
architecture is normalised (``amd64`` → ``amd64/generic``) and must be one
the system knows, an empty or IP-derived hostname is replaced by a random
``adjective-noun`` name, the FQDN must be unique, and power settings are
checked against the power type's schema.  An admin's enlistment is accepted
at once (the node starts commissioning); anyone else's waits in NEW.

Unlike 1.8, which refused every enlistment until boot images were imported,
the standard architectures are always known.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from power.registry import validate_power_parameters
from power.schema import ParameterErrors
from region.api.errors import ValidationError
from region.db import nodes as db_nodes
from region.db.pool import Tx
from region.domain.architectures import ArchitectureError, is_known, normalise_architecture
from region.domain.lifecycle import NodeStatus
from region.domain.macs import normalise_mac
from region.domain.names import is_ip_derived, random_hostname


@attrs.frozen
class Enlistment:
    """What a client asked for, before validation."""

    mac_addresses: Sequence[str]
    architecture: str | None = None
    subarchitecture: str | None = None
    hostname: str | None = None
    power_type: str = ""
    power_parameters: dict[str, Any] | None = None
    nodegroup_id: int | None = None
    boot_type: str | None = None
    osystem: str = ""
    distro_series: str = ""
    license_key: str = ""
    disable_ipv4: bool = False
    swap_size: int | None = None
    zone_id: int | None = None


def new_system_id() -> str:
    return f"node-{uuid.uuid1()}"


def _check_macs(macs: Sequence[str]) -> list[str]:
    if not macs:
        raise ValidationError.field("mac_addresses", "This field is required.")
    normalised, bad = [], []
    for mac in macs:
        try:
            normalised.append(normalise_mac(mac))
        except ValueError as error:
            bad.append(str(error))
    if bad:
        raise ValidationError.field("mac_addresses", " ".join(bad))
    return list(dict.fromkeys(normalised))


def check_power(power_type: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Validate power settings against the power type's schema (400 on error)."""
    if not power_type:
        return params if params else None
    try:
        return validate_power_parameters(power_type, params or {})
    except ParameterErrors as error:
        raise ValidationError(error.errors) from None


async def enlist(tx: Tx, request: Enlistment, *, owner_id: int | None,
                 extra_architectures: Iterable[str] = (),
                 rng: random.Random | None = None) -> db_nodes.Node:
    """Create the node (inside tx), in NEW; the caller accepts it when an admin enlisted it."""
    macs = _check_macs(request.mac_addresses)
    try:
        architecture = normalise_architecture(request.architecture, request.subarchitecture)
    except ArchitectureError as error:
        raise ValidationError.field("architecture", str(error)) from None
    if not is_known(architecture, extra_architectures):
        raise ValidationError.field(
            "architecture", f"'{architecture}' is not a valid architecture.")
    power_parameters = check_power(request.power_type, request.power_parameters)

    in_use = await db_nodes.macs_in_use(tx, macs)
    if in_use:
        problems = [f"MAC address {mac} already in use on {host}." for mac, host in in_use.items()]
        raise ValidationError.field("mac_addresses", " ".join(problems))

    nodegroup_id = request.nodegroup_id or await db_nodes.master_nodegroup_id(tx)
    rng = rng or random.SystemRandom()
    wanted = (request.hostname or "").strip()
    generate = not wanted or is_ip_derived(wanted.split(".")[0])
    domain = await tx.fetchval("SELECT name FROM nodegroups WHERE id = %(id)s",
                               {"id": nodegroup_id})
    for _ in range(100):
        hostname = random_hostname(rng) if generate else wanted
        fqdn = hostname if "." in hostname else f"{hostname}.{domain}"
        if await db_nodes.hostname_taken(tx, hostname, fqdn):
            if generate:
                continue
            raise ValidationError.field("hostname", f"Node with FQDN '{fqdn}' already exists.")
        node_id = await db_nodes.create(tx, db_nodes.NewNode(
            system_id=new_system_id(), hostname=hostname, nodegroup_id=nodegroup_id,
            status=int(NodeStatus.NEW), architecture=architecture, owner_id=owner_id,
            power_type=request.power_type, power_parameters=power_parameters,
            zone_id=request.zone_id, boot_type=request.boot_type or "fastpath",
            osystem=request.osystem, distro_series=request.distro_series,
            license_key=request.license_key, disable_ipv4=request.disable_ipv4,
            swap_size=request.swap_size,
        ))
        if node_id is None:
            if generate:
                continue
            raise ValidationError.field("hostname", f"Node with FQDN '{fqdn}' already exists.")
        if await db_nodes.add_macs(tx, node_id, macs) != len(macs):
            raise ValidationError.field("mac_addresses", "A MAC address was taken meanwhile.")
        row = await tx.fetchval("SELECT system_id FROM nodes WHERE id = %(id)s", {"id": node_id})
        node = await db_nodes.get(tx, str(row), for_update=True)
        assert node is not None
        return node
    raise ValidationError.field("hostname", "Could not find a free hostname; give one.")
