"""``tags/`` and ``tags/{name}/``: tags, manual or defined by XPath over hardware details."""

from __future__ import annotations

import re
from typing import Any

from region.api.context import RequestContext
from region.api.errors import Conflict, Forbidden, NotFound, ValidationError
from region.api.handlers.nodes import viewer
from region.api.registry import ADMIN, API_PREFIX, Handler, Param
from region.api.responses import DELETED, RawJSON, Response
from region.db import nodes as db_nodes
from region.db import tags as db_tags
from region.db.pool import Tx
from region.domain.tags import InvalidTagDefinition, compile_definition
from region.tagging import apply_tag

TAGS = Handler("TagsHandler", "tags/", "Manage all tags known to MAAS.")
TAG = Handler(
    "TagHandler", "tags/{name}/",
    "Manage a Tag.\n\nTags are properties that can be associated with a Node and serve as "
    "criteria for selecting and allocating nodes.\n\nA Tag is identified by its name.")

_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def tag_json(tag: db_tags.Tag) -> dict[str, Any]:
    return {"name": tag.name, "definition": tag.definition, "comment": tag.comment,
            "kernel_opts": tag.kernel_opts, "resource_uri": f"{API_PREFIX}tags/{tag.name}/"}


def _check(name: str | None, definition: str | None) -> None:
    errors: dict[str, list[str]] = {}
    if name is not None and not _VALID_NAME.match(name):
        errors["name"] = ["Invalid tag name: letters, digits, '-' and '_' only."]
    if definition:
        try:
            compile_definition(definition)
        except InvalidTagDefinition as error:
            errors["definition"] = [f"Invalid xpath expression: {error}"]
    if errors:
        raise ValidationError(errors)


async def _get(ctx: RequestContext, name: str) -> db_tags.Tag:
    tag = await ctx.db.transaction(lambda tx: db_tags.get(tx, name))
    if tag is None:
        raise NotFound(f"No such tag: {name!r}.")
    return tag


@TAGS.operation("GET", "list")
async def list_tags(ctx: RequestContext) -> list[dict[str, Any]]:
    """List Tags."""
    return [tag_json(tag) for tag in await ctx.db.transaction(db_tags.list_tags)]


@TAGS.operation("POST", "new", auth=ADMIN, params=[
    Param("name", required=True, doc="The name of the Tag to be created."),
    Param("comment", doc="A long form description of what the Tag is meant for."),
    Param("definition", doc="An XPath query evaluated against the hardware details."),
    Param("kernel_opts", doc="Kernel options for nodes with this tag."),
])
async def new(ctx: RequestContext, name: str, comment: str | None, definition: str | None,
              kernel_opts: str | None) -> dict[str, Any]:
    """Create a new Tag.

    With a definition, the tag is applied at once to every node whose
    hardware details match it.
    """
    _check(name, definition)
    try:
        tag = await ctx.db.transaction(lambda tx: db_tags.create(
            tx, name=name, definition=definition or "", comment=comment or "",
            kernel_opts=kernel_opts or ""))
    except db_tags.TagExists:
        raise ValidationError.field("name", "Tag with this Name already exists.") from None
    if tag.definition:
        await apply_tag(ctx.db, ctx.reactor, tag.name)
    return tag_json(tag)


@TAG.operation("GET")
async def read(ctx: RequestContext, name: str) -> dict[str, Any]:
    """Read a specific Tag."""
    return tag_json(await _get(ctx, name))


@TAG.operation("PUT", auth=ADMIN, params=[
    Param("name", dest="new_name"), Param("comment"), Param("definition"),
    Param("kernel_opts"),
])
async def update(ctx: RequestContext, name: str, new_name: str | None, comment: str | None,
                 definition: str | None, kernel_opts: str | None) -> dict[str, Any]:
    """Update a specific Tag; a changed definition is re-applied to every node."""
    _check(new_name, definition)

    async def work(tx: Tx) -> tuple[db_tags.Tag, bool]:
        tag = await db_tags.get(tx, name, for_update=True)
        if tag is None:
            raise NotFound(f"No such tag: {name!r}.")
        changed = definition is not None and definition != tag.definition
        try:
            updated = await db_tags.update(
                tx, tag, new_name=tag.name if new_name is None else new_name,
                definition=tag.definition if definition is None else definition,
                comment=tag.comment if comment is None else comment,
                kernel_opts=tag.kernel_opts if kernel_opts is None else kernel_opts)
        except db_tags.TagExists:
            raise ValidationError.field("name", "Tag with this Name already exists.") from None
        if changed and not updated.definition:
            await db_tags.replace_nodes(tx, updated.id, [])
        return updated, changed

    tag, changed = await ctx.db.transaction(work)
    if changed and tag.definition:
        await apply_tag(ctx.db, ctx.reactor, tag.name)
    return tag_json(tag)


@TAG.operation("DELETE", auth=ADMIN)
async def delete(ctx: RequestContext, name: str) -> Response:
    """Delete a specific Tag."""
    if not await ctx.db.transaction(lambda tx: db_tags.delete(tx, name)):
        raise NotFound(f"No such tag: {name!r}.")
    return DELETED


@TAG.operation("GET", "nodes")
async def nodes(ctx: RequestContext, name: str) -> RawJSON:
    """Get the list of nodes that have this tag."""
    me = viewer(ctx)

    async def work(tx: Tx) -> str:
        tag = await db_tags.get(tx, name)
        if tag is None:
            raise NotFound(f"No such tag: {name!r}.")
        ids = await db_tags.tagged_system_ids(tx, tag.id)
        if not ids:
            return "[]"
        return await db_nodes.list_json(tx, user_id=me.user_id, admin=me.admin,
                                        filters=db_nodes.NodeFilter(system_ids=ids))

    return RawJSON((await ctx.db.transaction(work)).encode("utf-8"))


@TAG.operation("POST", "rebuild", auth=ADMIN)
async def rebuild(ctx: RequestContext, name: str) -> dict[str, str]:
    """Manually trigger a rebuild of the tag-to-node mapping."""
    tag = await _get(ctx, name)
    if not tag.definition:
        raise ValidationError("Cannot rebuild a tag that has no definition.")
    await apply_tag(ctx.db, ctx.reactor, tag.name)
    return {"rebuilding": tag.name}


@TAG.operation("POST", "update_nodes", params=[
    Param("add", multiple=True, doc="System ids of nodes to tag."),
    Param("remove", multiple=True, doc="System ids of nodes to untag."),
    Param("definition", doc="If given, must equal the tag's definition (else 409)."),
    Param("nodegroup", doc="The cluster the nodes belong to (cluster workers)."),
])
async def update_nodes(ctx: RequestContext, name: str, add: list[str], remove: list[str],
                       definition: str | None, nodegroup: str | None) -> dict[str, int]:
    """Add or remove nodes being associated with this tag.

    Returns ``{"added": n, "removed": n}``; 409 if ``definition`` does not
    match the tag's current definition (the work was for an older one).
    """
    if not ctx.is_admin:
        raise Forbidden("Must be a superuser or supply a nodegroup")

    async def work(tx: Tx) -> dict[str, int]:
        tag = await db_tags.get(tx, name, for_update=True)
        if tag is None:
            raise NotFound(f"No such tag: {name!r}.")
        if definition is not None and definition != tag.definition:
            raise Conflict(f"Definition supplied '{definition}' doesn't match current "
                           f"definition '{tag.definition}'")
        unknown = await db_nodes.unknown_system_ids(tx, add + remove)
        if unknown:
            raise ValidationError(f"Unknown node(s): {', '.join(unknown)}.")
        added = await db_tags.add_nodes(tx, tag.id, add)
        removed = await db_tags.remove_nodes(tx, tag.id, remove)
        return {"added": added, "removed": removed}

    return await ctx.db.transaction(work)
