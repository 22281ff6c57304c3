"""
An HTTP power service for the webhook driver to call: what a lab's home-grown power API looks like.

- ``POST|PUT /nodes/<id>/power/on`` and ``.../off`` switch node ``<id>``;
- ``GET /nodes/<id>/power`` answers ``{"node": id, "power": {"on": bool,
  "state": "on"|"off"}}`` (JSON), or with ``?format=text`` a line of text
  ``Node <id>: power is ON|OFF``;
- ``GET /echo`` answers the request's headers (as a careless service might).

Calls need ``X-Api-Token`` to equal :attr:`token` and HTTP Basic credentials
to equal :attr:`user`/:attr:`password` (401 otherwise).
:attr:`FakeWebhookTarget.status` makes the next answer that status instead.
Every request is recorded in :attr:`requests` (``tests.fakes.webbase.Seen``).
"""

from __future__ import annotations

import json

from twisted.web.resource import Resource
from twisted.web.server import Request

from tests.fakes.webbase import Seen, refuse, seen


class FakeWebhookTarget(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str, token: str) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.token = token
        self.nodes: dict[str, bool] = {}
        self.status: int | None = None
        self.requests: list[Seen] = []

    def render(self, request: Request) -> bytes:
        what = seen(request)
        self.requests.append(what)
        if (what.user, what.password) != (self.user, self.password) \
                or what.headers.get("x-api-token") != self.token:
            return refuse(request, "power")
        if self.status is not None:
            request.setResponseCode(self.status)
            self.status = None
            return b"overridden"
        if what.path == "/echo":  # a careless service that echoes the request's headers
            return json.dumps(what.headers).encode()
        parts = what.path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "nodes" and parts[2] == "power":
            node = parts[1]
            if len(parts) == 4 and parts[3] in ("on", "off") and what.method in ("POST", "PUT"):
                self.nodes[node] = parts[3] == "on"
                request.setResponseCode(202)
                return b'{"accepted": true}'
            if len(parts) == 3 and what.method == "GET":
                on = self.nodes.get(node, False)
                if what.args.get("format") == ["text"]:
                    request.setHeader("Content-Type", "text/plain")
                    return f"Node {node}: power is {'ON' if on else 'OFF'}\n".encode()
                request.setHeader("Content-Type", "application/json")
                return json.dumps({"node": node, "power": {"on": on,
                                                           "state": "on" if on else "off"}}
                                  ).encode()
        request.setResponseCode(404)
        return b"no such endpoint"
