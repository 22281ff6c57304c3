"""
SQL for configuration items (table ``config``).

Each value is stored JSON-encoded, as MAAS 1.8 stores it.  A name with no
row has not been set; its default comes from ``region.domain.config_items``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from region.db.pool import Tx

SELECT_ONE = "SELECT value::text FROM config WHERE name = %(name)s"
SELECT_MANY = "SELECT name, value::text FROM config WHERE name = ANY(%(names)s)"
UPSERT = """
    INSERT INTO config (name, value) VALUES (%(name)s, %(value)s::jsonb)
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value
"""
INSERT_DEFAULT = """
    INSERT INTO config (name, value) VALUES (%(name)s, %(value)s::jsonb)
    ON CONFLICT (name) DO NOTHING
"""


class _NotSet:
    """The marker for a configuration item that has no stored value."""

    def __repr__(self) -> str:
        return "NOT_SET"


#: Returned by :func:`get` for a name with no stored value (a stored JSON
#: ``null`` is ``None``, which is different).
NOT_SET: Any = _NotSet()


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


async def get(tx: Tx, name: str) -> Any:
    """The stored value of name, or :data:`NOT_SET`."""
    row = await tx.fetchone(SELECT_ONE, {"name": name})
    return NOT_SET if row is None else _decode(row[0])


async def get_many(tx: Tx, names: Iterable[str]) -> dict[str, Any]:
    """The stored values of those names that have one."""
    rows = await tx.fetchall(SELECT_MANY, {"names": list(names)})
    return {name: _decode(text) for name, text in rows}


async def set_value(tx: Tx, name: str, value: Any) -> None:
    """Store value (any JSON-able value) under name, replacing what was there."""
    await tx.execute(UPSERT, {"name": name, "value": json.dumps(value)})


async def set_default(tx: Tx, name: str, value: Any) -> Any:
    """Store value under name unless a value is stored already; return the stored
    value (settled by the primary key: of two racing callers, both get the first's)."""
    await tx.execute(INSERT_DEFAULT, {"name": name, "value": json.dumps(value)})
    return await get(tx, name)
