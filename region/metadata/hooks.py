"""
The built-in commissioning hooks: what the region learns from a script's output.

A node signals each script's output as a file named after the script
(``<script>.out``).  For the outputs of built-in scripts that MAAS 1.8
interprets, a hook parses the output (with the pure parsers of
:mod:`region.domain.commissioning`) and updates the node inside the
signal's transaction.  Hooks run only for a zero ``script_result``.  Output
that cannot be parsed is stored all the same and logged; the node is left
as it was (a machine with unusual hardware still finishes commissioning).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
from twisted.logger import Logger

from region.db import macs as db_macs
from region.db import nodes as db_nodes
from region.db import results as db_results
from region.db import tags as db_tags
from region.db.pool import Tx
from region.domain.commissioning import (
    CommissioningDataError,
    parse_block_devices,
    parse_ip_link,
    parse_lldp_routers,
    parse_lshw,
    parse_virtuality,
)

log = Logger(namespace="region.metadata.hooks")

LSHW_OUTPUT = db_results.LSHW_OUTPUT
VIRTUALITY_OUTPUT = "00-maas-02-virtuality.out"
NETWORK_INTERFACES_OUTPUT = "00-maas-05-network-interfaces.out"
BLOCK_DEVICES_OUTPUT = "00-maas-07-block-devices.out"
LLDP_OUTPUT = db_results.LLDP_OUTPUT

#: The tag given to virtual machines.
VIRTUAL_TAG = "virtual"

Hook = Callable[[Tx, db_nodes.Node, bytes], Awaitable[None]]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


async def update_hardware(tx: Tx, node: db_nodes.Node, data: bytes) -> None:
    facts = parse_lshw(data)
    await db_nodes.update(tx, node.id, cpu_count=facts.cpu_count, memory=facts.memory_mib)


async def update_macs(tx: Tx, node: db_nodes.Node, data: bytes) -> None:
    # A bond and its members share a MAC: each MAC once.  set_node_macs
    # leaves the node's MACs alone when the list is empty.
    macs = list(dict.fromkeys(mac.lower() for mac in parse_ip_link(_text(data))))
    await db_macs.set_node_macs(tx, node.id, macs)


async def update_routers(tx: Tx, node: db_nodes.Node, data: bytes) -> None:
    await db_nodes.update(tx, node.id, routers=parse_lldp_routers(data))


async def update_block_devices(tx: Tx, node: db_nodes.Node, data: bytes) -> None:
    devices = parse_block_devices(data)
    await db_macs.replace_block_devices(
        tx, node.id, [{**attrs.asdict(device), "tags": list(device.tags)} for device in devices])


async def _tag(tx: Tx, name: str) -> db_tags.Tag:
    """The tag, created (as a manual tag) when missing."""
    for _ in range(2):
        tag = await db_tags.get(tx, name)
        if tag is not None:
            return tag
        try:
            return await db_tags.create(tx, name=name, definition="", comment="",
                                        kernel_opts="")
        except db_tags.TagExists:
            continue  # created by someone else meanwhile
    raise AssertionError(f"tag {name} neither exists nor can be created")


async def update_virtuality(tx: Tx, node: db_nodes.Node, data: bytes) -> None:
    virtual = parse_virtuality(_text(data))
    if virtual is None:
        return
    if virtual:
        tag = await _tag(tx, VIRTUAL_TAG)
        await db_tags.set_node_tags(tx, node.id, add=[tag.id], remove=[])
        return
    existing = await db_tags.get(tx, VIRTUAL_TAG)
    if existing is not None:
        await db_tags.set_node_tags(tx, node.id, add=[], remove=[existing.id])


HOOKS: dict[str, Hook] = {
    LSHW_OUTPUT: update_hardware,
    VIRTUALITY_OUTPUT: update_virtuality,
    NETWORK_INTERFACES_OUTPUT: update_macs,
    BLOCK_DEVICES_OUTPUT: update_block_devices,
    LLDP_OUTPUT: update_routers,
}


async def run_hook(tx: Tx, node: db_nodes.Node, name: str, data: bytes) -> bool:
    """Apply the hook for a result name, if there is one; False if its data was unusable."""
    hook = HOOKS.get(name)
    if hook is None:
        return True
    try:
        await hook(tx, node, data)
    except CommissioningDataError as error:
        log.warn("{system_id}: ignoring unusable {name}: {error}",
                 system_id=node.system_id, name=name, error=str(error))
        return False
    return True
