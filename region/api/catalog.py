"""
The list of every API handler: the one place that says what the API serves.

A handler module declares its handlers; adding it here makes them routed,
described, permission-checked and counted against ``api-inventory.tsv``.
"""

from __future__ import annotations

from region.api.handlers import describe, version, zones
from region.api.handlers import commissioning_scripts, files, maas
from region.api.handlers import account, sshkeys, sslkeys, users
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
)


def build_registry() -> Registry:
    return Registry(HANDLERS)
