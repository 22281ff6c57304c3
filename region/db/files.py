"""
SQL for the file storage (table ``files``).

A file is identified by its filename and its owner; each also has a random
key (a UUID) through which anyone may fetch it.  Storing a filename its
owner already has replaces that file's content and keeps its key.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from region.db.pool import Tx

_COLUMNS = "id, filename, owner_id, key"

SELECT_NEWEST_CONTENT = """
    SELECT content FROM files WHERE filename = %(filename)s ORDER BY id DESC LIMIT 1
"""
SELECT_CONTENT_BY_KEY = "SELECT content FROM files WHERE key = %(key)s"
SELECT_OWN = f"""
    SELECT {_COLUMNS}, content FROM files
     WHERE filename = %(filename)s AND owner_id = %(owner_id)s
"""
SELECT_OWN_LIST = f"""
    SELECT {_COLUMNS} FROM files
     WHERE owner_id = %(owner_id)s AND starts_with(filename, %(prefix)s)
     ORDER BY filename COLLATE "C"
"""
UPSERT = f"""
    INSERT INTO files (filename, owner_id, content, key)
    VALUES (%(filename)s, %(owner_id)s, %(content)s, gen_random_uuid())
    ON CONFLICT (filename, owner_id) DO UPDATE SET content = EXCLUDED.content
    RETURNING {_COLUMNS}
"""
DELETE_OWN = "DELETE FROM files WHERE filename = %(filename)s AND owner_id = %(owner_id)s"


@attrs.frozen
class StoredFile:
    """A stored file; content is None when it was not fetched."""

    id: int
    filename: str
    owner_id: int | None
    key: uuid.UUID
    content: bytes | None = None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredFile:
        id_, filename, owner_id, key, *rest = row
        content = bytes(rest[0]) if rest else None
        return cls(id_, filename, owner_id, uuid.UUID(str(key)), content)


async def newest_content(tx: Tx, filename: str) -> bytes | None:
    """The content of the newest file called filename, whoever owns it."""
    value = await tx.fetchval(SELECT_NEWEST_CONTENT, {"filename": filename})
    return None if value is None else bytes(value)


async def content_by_key(tx: Tx, key: uuid.UUID) -> bytes | None:
    value = await tx.fetchval(SELECT_CONTENT_BY_KEY, {"key": str(key)})
    return None if value is None else bytes(value)


async def get_own(tx: Tx, filename: str, owner_id: int) -> StoredFile | None:
    """The owner's file called filename, with its content."""
    row = await tx.fetchone(SELECT_OWN, {"filename": filename, "owner_id": owner_id})
    return None if row is None else StoredFile.from_row(row)


async def list_own(tx: Tx, owner_id: int, prefix: str = "") -> list[StoredFile]:
    """The owner's files whose names start with prefix, by filename, without content."""
    rows = await tx.fetchall(SELECT_OWN_LIST, {"owner_id": owner_id, "prefix": prefix})
    return [StoredFile.from_row(row) for row in rows]


async def save(tx: Tx, filename: str, owner_id: int, content: bytes) -> StoredFile:
    """Store content as the owner's filename, replacing any file of that name."""
    row = await tx.fetchone(UPSERT, {"filename": filename, "owner_id": owner_id,
                                     "content": content})
    assert row is not None
    return StoredFile.from_row(row)


async def delete_own(tx: Tx, filename: str, owner_id: int) -> bool:
    return await tx.execute(DELETE_OWN, {"filename": filename, "owner_id": owner_id}) > 0
