"""
SQL for cluster interfaces (``nodegroup_interfaces``).

Callers pass settings already checked by ``region.domain.interfaces.clean``;
the one thing settled here is the uniqueness of a name within its cluster
(``UNIQUE (nodegroup_id, name)``: ``INSERT ... ON CONFLICT DO NOTHING``, and a
rename onto a taken name raises :class:`InterfaceExists`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import psycopg2.errors

from region.db.pool import Tx
from region.domain.interfaces import FIELDS, InterfaceSettings

_COLUMNS = """
    id, nodegroup_id, name, interface, host(ip), host(subnet_mask), host(broadcast_ip),
    host(router_ip), host(ip_range_low), host(ip_range_high), host(static_ip_range_low),
    host(static_ip_range_high), management, host(foreign_dhcp_ip)
"""

SELECT_FOR_NODEGROUP = f"""
    SELECT {_COLUMNS} FROM nodegroup_interfaces WHERE nodegroup_id = %(nodegroup_id)s
     ORDER BY name
"""
SELECT_BY_NAME = f"""
    SELECT {_COLUMNS} FROM nodegroup_interfaces
     WHERE nodegroup_id = %(nodegroup_id)s AND name = %(name)s
"""
INSERT = f"""
    INSERT INTO nodegroup_interfaces (
        nodegroup_id, name, interface, ip, subnet_mask, broadcast_ip, router_ip,
        ip_range_low, ip_range_high, static_ip_range_low, static_ip_range_high, management)
    VALUES (
        %(nodegroup_id)s, %(name)s, %(interface)s, %(ip)s, %(subnet_mask)s, %(broadcast_ip)s,
        %(router_ip)s, %(ip_range_low)s, %(ip_range_high)s, %(static_ip_range_low)s,
        %(static_ip_range_high)s, %(management)s)
    ON CONFLICT (nodegroup_id, name) DO NOTHING
    RETURNING {_COLUMNS}
"""
UPDATE = f"""
    UPDATE nodegroup_interfaces
       SET name = %(name)s, interface = %(interface)s, ip = %(ip)s,
           subnet_mask = %(subnet_mask)s, broadcast_ip = %(broadcast_ip)s,
           router_ip = %(router_ip)s, ip_range_low = %(ip_range_low)s,
           ip_range_high = %(ip_range_high)s, static_ip_range_low = %(static_ip_range_low)s,
           static_ip_range_high = %(static_ip_range_high)s, management = %(management)s,
           updated = now()
     WHERE id = %(id)s
    RETURNING {_COLUMNS}
"""
DELETE = """
    DELETE FROM nodegroup_interfaces WHERE nodegroup_id = %(nodegroup_id)s AND name = %(name)s
"""
COUNT = "SELECT count(*) FROM nodegroup_interfaces WHERE nodegroup_id = %(nodegroup_id)s"
SET_FOREIGN_DHCP = """
    UPDATE nodegroup_interfaces SET foreign_dhcp_ip = %(ip)s, updated = now()
     WHERE nodegroup_id = %(nodegroup_id)s AND interface = %(interface)s
"""
# Serialises the "create only if the cluster has none" of registrations.
LOCK_NODEGROUP = "SELECT id FROM nodegroups WHERE id = %(nodegroup_id)s FOR UPDATE"


class InterfaceExists(Exception):
    """The cluster has another interface with that name."""


@attrs.frozen
class Interface:
    id: int
    nodegroup_id: int
    name: str
    interface: str
    ip: str
    subnet_mask: str | None
    broadcast_ip: str | None
    router_ip: str | None
    ip_range_low: str | None
    ip_range_high: str | None
    static_ip_range_low: str | None
    static_ip_range_high: str | None
    management: int
    foreign_dhcp_ip: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Interface:
        return cls(*row)

    def settings(self) -> InterfaceSettings:
        """The client-settable part, as region.domain.interfaces checks it."""
        return InterfaceSettings(
            name=self.name, ip=self.ip, interface=self.interface, management=self.management,
            subnet_mask=self.subnet_mask, broadcast_ip=self.broadcast_ip,
            router_ip=self.router_ip, ip_range_low=self.ip_range_low,
            ip_range_high=self.ip_range_high, static_ip_range_low=self.static_ip_range_low,
            static_ip_range_high=self.static_ip_range_high)


def _values(settings: InterfaceSettings) -> dict[str, Any]:
    return {field: getattr(settings, field) for field in FIELDS}


async def list_for(tx: Tx, nodegroup_id: int) -> list[Interface]:
    rows = await tx.fetchall(SELECT_FOR_NODEGROUP, {"nodegroup_id": nodegroup_id})
    return [Interface.from_row(row) for row in rows]


async def get(tx: Tx, nodegroup_id: int, name: str, *, for_update: bool = False
              ) -> Interface | None:
    row = await tx.fetchone(SELECT_BY_NAME + (" FOR UPDATE" if for_update else ""),
                            {"nodegroup_id": nodegroup_id, "name": name})
    return None if row is None else Interface.from_row(row)


async def create(tx: Tx, nodegroup_id: int, settings: InterfaceSettings) -> Interface:
    """Add an interface to cluster nodegroup_id; InterfaceExists if the name is taken."""
    row = await tx.fetchone(INSERT, {"nodegroup_id": nodegroup_id, **_values(settings)})
    if row is None:
        raise InterfaceExists(settings.name)
    return Interface.from_row(row)


async def update(tx: Tx, interface_id: int, settings: InterfaceSettings) -> Interface | None:
    """Replace an interface's settings (a rename too); None if it is gone."""
    try:
        row = await tx.fetchone(UPDATE, {"id": interface_id, **_values(settings)})
    except psycopg2.errors.UniqueViolation:
        raise InterfaceExists(settings.name) from None
    return None if row is None else Interface.from_row(row)


async def delete(tx: Tx, nodegroup_id: int, name: str) -> bool:
    return await tx.execute(DELETE, {"nodegroup_id": nodegroup_id, "name": name}) > 0


async def count_for(tx: Tx, nodegroup_id: int) -> int:
    return int(await tx.fetchval(COUNT, {"nodegroup_id": nodegroup_id}))


async def create_if_none(tx: Tx, nodegroup_id: int,
                         interfaces: Sequence[InterfaceSettings]) -> list[Interface]:
    """
    Create interfaces for cluster nodegroup_id if it has none yet (locks the
    cluster's row so that concurrent callers agree); return those created.
    """
    if not interfaces:
        return []
    await tx.fetchval(LOCK_NODEGROUP, {"nodegroup_id": nodegroup_id})
    if await count_for(tx, nodegroup_id):
        return []
    created = []
    for settings in interfaces:
        row = await tx.fetchone(INSERT, {"nodegroup_id": nodegroup_id, **_values(settings)})
        if row is not None:
            created.append(Interface.from_row(row))
    return created


async def set_foreign_dhcp_ip(tx: Tx, nodegroup_id: int, interface: str,
                              ip: str | None) -> int:
    """
    Record (ip None: forget) a DHCP server not run by MAAS that the cluster saw
    on network interface ``interface`` (ReportForeignDHCPServer names the
    network interface, not the cluster interface); returns how many of the
    cluster's interfaces it concerns.
    """
    return await tx.execute(SET_FOREIGN_DHCP, {"nodegroup_id": nodegroup_id,
                                               "interface": interface, "ip": ip})
