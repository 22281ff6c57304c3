"""
``nodegroups/{uuid}/boot-images/``: the boot images a cluster has.

The region keeps no list of its own: it asks the cluster (ListBootImagesV2,
or ListBootImages for a cluster that does not know V2) and answers with the
images as the cluster reports them, without ``xinstall_type`` and
``xinstall_path`` (as 1.8).  A cluster that is not connected gives a 503 with
``Retry-After: 10`` at once; a cluster that does not answer within 30 s, the
same.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.handlers.cluster_calls import ClusterNotSupported, call
from region.api.handlers.nodegroups import load
from region.api.registry import Handler
from rpc.commands.cluster import ListBootImages, ListBootImagesV2

BOOT_IMAGES = Handler("BootImagesHandler", "nodegroups/{uuid}/boot-images/",
                      "Manage the collection of boot images.")

#: What the cluster reports that the API does not show.
_HIDDEN = ("xinstall_type", "xinstall_path")
_ACTION = "list its boot images"


@BOOT_IMAGES.operation("GET")
async def read(ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
    """List boot images.

    Get a listing of a cluster's boot images.  Returns 404 if the cluster
    is not found, 503 (Retry-After) if it is not connected.
    """
    nodegroup = await load(ctx, uuid)
    try:
        answer = await call(ctx, nodegroup, ListBootImagesV2, action=_ACTION)
    except ClusterNotSupported:
        answer = await call(ctx, nodegroup, ListBootImages, action=_ACTION)
    images: list[dict[str, Any]] = answer.get("images", [])
    return [{key: value for key, value in image.items() if key not in _HIDDEN}
            for image in images]
