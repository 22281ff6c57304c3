"""
The list of every API handler: the one place that says what the API serves.

A handler module declares its handlers; adding it here makes them routed,
described, permission-checked and counted against ``api-inventory.tsv``.
"""

from __future__ import annotations

from region.api.handlers import (
    account,
    boot_images,
    commissioning_scripts,
    describe,
    events,
    files,
    maas,
    node,
    node_macs,
    nodegroup_interfaces,
    nodegroups,
    nodes,
    results,
    sshkeys,
    sslkeys,
    tags,
    users,
    version,
    zones,
)
from region.api.registry import Handler, Registry

HANDLERS: tuple[Handler, ...] = (
    describe.DESCRIBE,
    version.VERSION,
    zones.ZONES,
    zones.ZONE,
    maas.MAAS,
    files.FILES,
    files.FILE,
    commissioning_scripts.SCRIPTS,
    commissioning_scripts.SCRIPT,
    account.ACCOUNT,
    users.USERS,
    users.USER,
    sshkeys.SSHKEYS,
    sshkeys.SSHKEY,
    sslkeys.SSLKEYS,
    sslkeys.SSLKEY,
    nodes.NODES,
    node.NODE,
    node_macs.NODE_MACS,
    node_macs.NODE_MAC,
    tags.TAGS,
    tags.TAG,
    events.EVENTS,
    results.RESULTS,
    results.COMMISSIONING_RESULTS,
    nodegroups.NODEGROUPS,
    nodegroups.NODEGROUP,
    nodegroup_interfaces.INTERFACES,
    nodegroup_interfaces.INTERFACE,
    boot_images.BOOT_IMAGES,
)


def build_registry() -> Registry:
    return Registry(HANDLERS)
