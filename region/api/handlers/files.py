"""``files/`` and ``files/{filename}/``: the file storage.

Users store named blobs (Juju keeps its provider state here).  A file is
identified by its filename and owner: each user sees and changes only their
own files.  Anyone, even without credentials, may fetch a file by name
(``op=get``: the newest file of that name, whoever owns it) or by the key in
its ``anon_resource_uri`` (``op=get_by_key``).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import quote

from region.api.context import RequestContext
from region.api.errors import BadRequest, NotFound, ValidationError
from region.api.registry import ANONYMOUS, API_PREFIX, Handler, Param
from region.api.registry import FILE as FILE_PART
from region.api.responses import DELETED, Response
from region.db import files as db_files

FILES = Handler("FilesHandler", "files/", "Manage the collection of all the files in this MAAS.")
FILE = Handler("FileHandler", "files/{filename}/",
               "Manage a FileStorage object.\n\nThe file is identified by its filename and owner.")

#: The longest filename MAAS 1.8 could store.
MAX_FILENAME_LENGTH = 255
OCTET_STREAM = "application/octet-stream"


def file_json(stored: db_files.StoredFile, *, with_content: bool = False) -> dict[str, Any]:
    """A file as MAAS 1.8 shows it; the content (base64) only when asked for."""
    result: dict[str, Any] = {
        "filename": stored.filename,
        "anon_resource_uri": f"{API_PREFIX}files/?op=get_by_key&key={stored.key}",
    }
    if with_content:
        assert stored.content is not None
        result["content"] = base64.b64encode(stored.content).decode("ascii")
    result["resource_uri"] = f"{API_PREFIX}files/{quote(stored.filename, safe='')}/"
    return result


def _storable(filename: str) -> bool:
    """Whether a file could be stored under filename (PostgreSQL text holds no NUL)."""
    return "\x00" not in filename


def _not_found() -> NotFound:
    return NotFound("File not found")


@FILES.operation("GET", "get", auth=ANONYMOUS, params=[
    Param("filename", required=True, doc="The exact name of the file you want to get."),
])
async def get(ctx: RequestContext, filename: str) -> Response:
    """Get a named file from the file storage.

    The newest file of that name is returned, whoever owns it, as the
    response's content.  Returns 404 if there is none.
    """
    if not _storable(filename):
        raise _not_found()
    content = await ctx.db.transaction(lambda tx: db_files.newest_content(tx, filename))
    if content is None:
        raise _not_found()
    return Response(content, 200, OCTET_STREAM)


@FILES.operation("GET", "get_by_key", auth=ANONYMOUS, params=[
    Param("key", required=True, doc="The exact key of the file you want to get."),
])
async def get_by_key(ctx: RequestContext, key: str) -> Response:
    """Get a file from the file storage using its key.

    The file is returned in the response content.  Returns 404 if no file
    has that key.
    """
    try:
        parsed = uuid.UUID(key)
    except ValueError:
        raise _not_found() from None  # no file can have a key that is not a UUID
    content = await ctx.db.transaction(lambda tx: db_files.content_by_key(tx, parsed))
    if content is None:
        raise _not_found()
    return Response(content, 200, OCTET_STREAM)


@FILES.operation("GET", "list", params=[
    Param("prefix", doc="Optional prefix used to filter out the returned files."),
])
async def list_files(ctx: RequestContext, prefix: str | None) -> list[dict[str, Any]]:
    """List the files from the file storage.

    The returned files are the caller's own, ordered by file name; their
    content is excluded.
    """
    assert ctx.user is not None
    owner_id = ctx.user.id
    if prefix is not None and not _storable(prefix):
        return []
    stored = await ctx.db.transaction(lambda tx: db_files.list_own(tx, owner_id, prefix or ""))
    return [file_json(item) for item in stored]


@FILES.operation("POST", "add", params=[
    Param("filename", required=True, doc="The file name to use in the storage."),
    Param("file", FILE_PART, required=True,
          doc="Actual file data with content type application/octet-stream."),
])
async def add(ctx: RequestContext, filename: str, file: bytes) -> Response:
    """Add a new file to the file storage.

    Storing a filename the caller already has replaces that file.  Returns
    400 if the filename is missing from the parameters, if the file data is
    missing, or if more than one file is supplied.
    """
    assert ctx.user is not None
    owner_id = ctx.user.id
    if len(ctx.params.all_files) + len(ctx.params.getlist("file")) > 1:
        raise BadRequest("Exactly one file must be supplied.")
    if not filename:
        raise ValidationError.field("filename", "This field is required.")
    if not _storable(filename) or len(filename) > MAX_FILENAME_LENGTH:
        raise ValidationError.field(
            "filename",
            f"Enter a filename of at most {MAX_FILENAME_LENGTH} characters, without null "
            "characters.")
    stored = await ctx.db.transaction(lambda tx: db_files.save(tx, filename, owner_id, file))
    return Response.json(file_json(stored), 201)


async def _own_file(ctx: RequestContext, filename: str) -> db_files.StoredFile:
    assert ctx.user is not None
    owner_id = ctx.user.id
    if not _storable(filename):
        raise _not_found()
    stored = await ctx.db.transaction(lambda tx: db_files.get_own(tx, filename, owner_id))
    if stored is None:
        raise _not_found()
    return stored


async def _delete_own(ctx: RequestContext, filename: str) -> Response:
    assert ctx.user is not None
    owner_id = ctx.user.id
    if not _storable(filename) or not await ctx.db.transaction(
            lambda tx: db_files.delete_own(tx, filename, owner_id)):
        raise _not_found()
    return DELETED


@FILE.operation("GET")
async def read(ctx: RequestContext, filename: str) -> dict[str, Any]:
    """GET a FileStorage object as a json object.

    The 'content' of the file is base64-encoded.  Only the caller's own
    files are found (404 otherwise).
    """
    return file_json(await _own_file(ctx, filename), with_content=True)


@FILE.operation("DELETE")
async def delete(ctx: RequestContext, filename: str) -> Response:
    """Delete a FileStorage object (the caller's own; 404 otherwise)."""
    return await _delete_own(ctx, filename)


@FILE.operation("POST", "delete")
async def delete_op(ctx: RequestContext, filename: str) -> Response:
    """Delete a FileStorage object (the caller's own; 404 otherwise)."""
    return await _delete_own(ctx, filename)
