"""``describe/``: the machine-readable description of the whole API (anonymous)."""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.registry import ANONYMOUS, Handler

DESCRIBE = Handler("DescribeHandler", "describe/", "A description of this API, for clients.",
                   hidden=True)


@DESCRIBE.operation("GET", auth=ANONYMOUS)
async def read(ctx: RequestContext) -> dict[str, Any]:
    """Describe every resource and operation of the API."""
    registry = ctx.services.extras["registry"]
    return registry.describe(ctx.base_uri)  # type: ignore[no-any-return]
