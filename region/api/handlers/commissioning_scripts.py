"""``commissioning-scripts/`` and ``commissioning-scripts/{name}``: custom scripts.

A commissioning node runs MAAS's built-in scripts and these, in the order of
their names.  A script is stored and handed to nodes byte for byte exactly as
it was uploaded (it may be a binary).  Only administrators manage them.  As
in MAAS 1.8, the single-script URI has no trailing slash.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.registry import API_PREFIX, Handler, Param
from region.api.registry import FILE as FILE_PART
from region.api.responses import DELETED, Response
from region.db import commissioning_scripts as db_scripts

SCRIPTS = Handler("CommissioningScriptsHandler", "commissioning-scripts/",
                  "Manage custom commissioning scripts.\n\n"
                  "This functionality is only available to administrators.",
                  admin_only=True)
SCRIPT = Handler("CommissioningScriptHandler", "commissioning-scripts/{name}",
                 "Manage a custom commissioning script.\n\n"
                 "This functionality is only available to administrators.",
                 admin_only=True)

#: The characters MAAS 1.8 let through (those a shell never needs to quote:
#: no whitespace, quotes or apostrophes), less "/", which would make the name
#: a path inside the scripts archive that nodes unpack.
_VALID_NAME = re.compile(r"[A-Za-z0-9@%_+=:,.-]{1,255}")
#: Built-in scripts are named so that they run first or last.
RESERVED_PREFIXES = ("00-maas", "99-maas")
BINARY = "application/binary"

_CONTENT_DOC = (
    "A script file, to be uploaded in binary form. Note: this is not a normal parameter, "
    "but a file upload. Its filename is ignored; MAAS will know it by the name you pass "
    "to the request."
)


def script_json(script: db_scripts.CommissioningScript) -> dict[str, Any]:
    return {
        "name": script.name,
        "content": base64.b64encode(script.content).decode("ascii"),
        "resource_uri": f"{API_PREFIX}commissioning-scripts/{quote(script.name, safe='@+=:,')}",
    }


def _check_name(name: str) -> None:
    if not _VALID_NAME.fullmatch(name) or set(name) == {"."}:
        raise ValidationError.field(
            "name",
            "Name contains disallowed characters: use at most 255 ASCII letters, digits "
            "and @%_+=:,.- (no whitespace, quotes, apostrophes or slashes).")
    # 1.8 let anyone upload a script named like a built-in one; the two would
    # then be confused on the node.  Refusing those names is a deliberate choice.
    if name.startswith(RESERVED_PREFIXES):
        raise ValidationError.field(
            "name",
            "Names starting with '00-maas' or '99-maas' are reserved for the scripts "
            "built into MAAS.")


def _may_exist(name: str) -> bool:
    """Whether a stored script could have name (PostgreSQL text holds no NUL)."""
    return "\x00" not in name


@SCRIPTS.operation("GET")
async def read(ctx: RequestContext) -> list[str]:
    """List commissioning scripts (their names, in the order nodes run them)."""
    return await ctx.db.transaction(db_scripts.list_names)


@SCRIPTS.operation("POST", params=[
    Param("name", required=True, doc="Unique identifying name for the script. Names should "
          "follow the pattern of \"25-burn-in-hard-disk\" (all ASCII, and with numbers greater "
          "than zero, and generally no \"weird\" characters)."),
    Param("content", FILE_PART, required=True, doc=_CONTENT_DOC),
])
async def create(ctx: RequestContext, name: str, content: bytes) -> dict[str, Any]:
    """Create a new commissioning script.

    Each commissioning script is identified by a unique name.  By convention
    the name should consist of a two-digit number, a dash, and a brief
    descriptive identifier consisting only of ASCII characters.  The name must
    not contain any whitespace, quotes, or apostrophes.

    A commissioning node will run each of the scripts in lexicographical
    order.  Scripts built into MAAS have names starting with "00-maas" or
    "99-maas" to ensure that they run first or last, respectively; those
    names are reserved.
    """
    _check_name(name)
    try:
        script = await ctx.db.transaction(lambda tx: db_scripts.create(tx, name, content))
    except db_scripts.ScriptExists:
        raise ValidationError.field(
            "name", "Commissioning script with this Name already exists.") from None
    return script_json(script)


@SCRIPT.operation("GET")
async def read_script(ctx: RequestContext, name: str) -> Response:
    """Read a commissioning script: its content, exactly as uploaded."""
    script = await ctx.db.transaction(lambda tx: db_scripts.get(tx, name)) \
        if _may_exist(name) else None
    if script is None:
        raise NotFound()
    return Response(script.content, 200, BINARY)


@SCRIPT.operation("PUT", params=[Param("content", FILE_PART, required=True, doc=_CONTENT_DOC)])
async def update(ctx: RequestContext, name: str, content: bytes) -> dict[str, Any]:
    """Update a commissioning script (replace its content)."""
    script = await ctx.db.transaction(lambda tx: db_scripts.update(tx, name, content)) \
        if _may_exist(name) else None
    if script is None:
        raise NotFound()
    return script_json(script)


@SCRIPT.operation("DELETE")
async def delete(ctx: RequestContext, name: str) -> Response:
    """Delete a commissioning script."""
    if not _may_exist(name) or not await ctx.db.transaction(
            lambda tx: db_scripts.delete(tx, name)):
        raise NotFound()
    return DELETED
