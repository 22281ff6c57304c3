"""``maas/``: read and set the region's configuration items (administrators only).

The items, their defaults and their validation are in
``region.domain.config_items``; values are stored JSON-encoded by
``region.db.config``.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.errors import ValidationError
from region.api.registry import Handler, Param
from region.api.responses import OK, Response
from region.db import config as db_config
from region.domain import config_items

MAAS = Handler("MaasHandler", "maas/", "Manage the MAAS server.", admin_only=True)


def _item(name: str) -> config_items.ConfigItem:
    # MAAS 1.8 answered get_config for an unknown name with JSON null, which
    # hides typos; here both operations name the unknown item in a 400 form
    # error instead (a deliberate improvement).
    try:
        return config_items.api_item(name)
    except config_items.UnknownItem as error:
        raise ValidationError.field("name", str(error)) from None


_ITEMS_DOC = config_items.describe_items()


@MAAS.operation("GET", "get_config", params=[
    Param("name", required=True, doc="The name of the config item to be retrieved."),
], doc=f"Get a config value.\n\n{_ITEMS_DOC}")
async def get_config(ctx: RequestContext, name: str) -> Any:
    item = _item(name)
    stored = await ctx.db.transaction(lambda tx: db_config.get(tx, item.name))
    return item.default_value() if stored is db_config.NOT_SET else stored


@MAAS.operation("POST", "set_config", params=[
    Param("name", required=True, doc="The name of the config item to be set."),
    Param("value", required=True, doc="The value of the config item to be set."),
], doc=f"Set a config value.\n\n{_ITEMS_DOC}")
async def set_config(ctx: RequestContext, name: str, value: str) -> Response:
    item = _item(name)
    try:
        parsed = item.clean(value)
    except config_items.InvalidValue as error:
        raise ValidationError.field("value", str(error)) from None
    await ctx.db.transaction(lambda tx: db_config.set_value(tx, item.name, parsed))
    return OK
