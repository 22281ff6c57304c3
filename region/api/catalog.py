"""
The list of every API handler: the one place that says what the API serves.

A handler module declares its handlers; adding it here makes them routed,
described, permission-checked and counted against ``api-inventory.tsv``.
"""

from __future__ import annotations

from region.api.handlers import describe, version, zones
from region.api.registry import Handler, Registry

HANDLERS: tuple[Handler, ...] = (
    describe.DESCRIBE,
    version.VERSION,
    zones.ZONES,
    zones.ZONE,
)


def build_registry() -> Registry:
    return Registry(HANDLERS)
