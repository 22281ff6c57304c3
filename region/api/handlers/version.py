"""``version/``: what this MAAS is and what it can do (anonymous)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from region.api.context import RequestContext
from region.api.registry import ANONYMOUS, Handler

#: What MAAS 1.8 advertises, in its order.  Clients (Juju) test for these.
CAPABILITIES = (
    "networks-management",
    "static-ipaddresses",
    "ipv6-deployment-ubuntu",
    "devices-management",
)
#: The API release this server implements.
API_VERSION = "1.8"

VERSION = Handler("VersionHandler", "version/", "Information about this MAAS instance.")


def _package_version() -> str:
    try:
        return version("maas-twisted")
    except PackageNotFoundError:
        return "from source"


@VERSION.operation("GET", auth=ANONYMOUS)
async def read(ctx: RequestContext) -> dict[str, object]:
    """Version and capabilities of this MAAS instance."""
    return {
        "capabilities": list(CAPABILITIES),
        "version": API_VERSION,
        "subversion": f"maas-twisted {_package_version()}",
    }
