"""What an operation receives: the region's services and the request's facts."""

from __future__ import annotations

from typing import Any

import attrs

from region.api.params import Params
from region.db.pool import Database
from region.db.tokens import Token
from region.db.users import User


@attrs.frozen
class Services:
    """The region's long-lived collaborators, shared by every request."""

    reactor: Any
    db: Database
    config: Any
    #: Extra collaborators later parts of the region attach (RPC, DNS, ...).
    extras: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class RequestContext:
    """One request as an operation sees it."""

    services: Services
    request: Any
    params: Params
    user: User | None
    token: Token | None
    #: Absolute URL of the API root as the client reached it, ending in "/".
    base_uri: str

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def reactor(self) -> Any:
        return self.services.reactor

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_superuser

    @property
    def remote_address(self) -> str:
        peer = self.request.getClientAddress()
        return str(getattr(peer, "host", ""))
