"""
A SeaMicro 15000 chassis' REST APIs, v0.9 and v2.0, as far as server power and listing go.

v0.9 (``/v0.9/...``, positional query parameters, answers
``{"error": {"code": N}, "result": ...}``): ``GET login?USER&PASS``,
``GET logout``, ``GET servers?TOKEN`` (``serverId``: index → ``card/cpu``),
``GET servers/all?TOKEN`` (one entry per NIC), ``PUT servers/<index>?action=
Power-On&using-pxe=true|false&TOKEN`` / ``action=Power-Off&force=true|false&TOKEN``.
Only one login at a time: :attr:`FakeSeaMicro.busy` makes that many power
PUTs answer error 401, as when another session holds the login.

v2.0 (``/v2.0/...``, JSON): ``POST login`` ``{"username","password"}`` → a
token string; ``GET servers``, ``GET servers/<card>/<cpu>`` with
``?authtoken=``; ``PUT servers/<card>/<cpu>`` with a JSON body holding
``action`` (``power-on`` with ``using-pxe``, ``power-off`` with ``force``)
and ``authtoken``.

Every request is recorded in :attr:`FakeSeaMicro.requests` as
``(method, path, positional-or-query args, json body)``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from twisted.web.resource import Resource
from twisted.web.server import Request


@attrs.define
class FakeCard:
    macs: list[str]
    active: bool = False
    pxe_boots: int = 0
    forced_offs: int = 0


class FakeSeaMicro(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str, cards: dict[str, FakeCard]) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.cards = cards
        self.tokens: set[str] = set()
        self.busy = 0
        self.v2 = True  # False: the chassis has no v2.0 API (404)
        self.requests: list[tuple[str, str, Any, Any]] = []

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _, _ in self.requests]

    # -- dispatch ------------------------------------------------------------------

    def render(self, request: Request) -> bytes:
        uri = urlsplit(request.uri.decode())
        method = request.method.decode()
        body = request.content.read()
        payload = json.loads(body) if body.strip() else None
        request.setHeader("Content-Type", "application/json")
        if uri.path.startswith("/v0.9/"):
            args = [unquote(a) for a in uri.query.split("&")] if uri.query else []
            self.requests.append((method, uri.path, args, payload))
            return json.dumps(self.v09(method, uri.path[len("/v0.9/"):], args)).encode()
        if uri.path.startswith("/v2.0/") and self.v2:
            query = {k: v[0] for k, v in parse_qs(uri.query).items()}
            self.requests.append((method, uri.path, query, payload))
            status, answer = self.v20(method, uri.path[len("/v2.0/"):], query, payload)
            request.setResponseCode(status)
            return json.dumps(answer).encode()
        request.setResponseCode(404)
        return b'"not found"'

    # -- v0.9 ------------------------------------------------------------------------

    def index(self) -> dict[str, str]:
        return {str(i): f"{card}/0" for i, card in enumerate(sorted(self.cards, key=int))}

    @staticmethod
    def rpc(code: int, result: Any = None) -> dict[str, Any]:
        return {"error": {"code": code}, "result": result}

    def v09(self, method: str, location: str, args: list[str]) -> dict[str, Any]:
        if location == "login" and method == "GET":
            if args != [self.user, self.password]:
                return self.rpc(401)
            token = secrets.token_hex(8)
            self.tokens.add(token)
            return self.rpc(200, token)
        if location == "logout":
            self.tokens.clear()
            return self.rpc(200, "ok")
        if not args or args[-1] not in self.tokens:
            return self.rpc(401)
        if location == "servers" and method == "GET":
            return self.rpc(200, {"serverId": self.index()})
        if location == "servers/all" and method == "GET":
            listing = {}
            for card in sorted(self.cards, key=int):
                for nic, mac in enumerate(self.cards[card].macs):
                    listing[str(len(listing))] = {"serverId": f"{card}/0", "serverNIC": str(nic),
                                                  "serverMacAddr": mac}
            return self.rpc(200, listing)
        if location.startswith("servers/") and method == "PUT":
            card_id = self.index().get(location.split("/", 1)[1], "").split("/")[0]
            if not card_id:
                return self.rpc(404)
            if self.busy:
                self.busy -= 1
                return self.rpc(401)
            card = self.cards[card_id]
            if args[:2] == ["action=Power-On", "using-pxe=true"]:
                card.active, card.pxe_boots = True, card.pxe_boots + 1
            elif args[:2] == ["action=Power-Off", "force=true"]:
                card.active, card.forced_offs = False, card.forced_offs + 1
            else:
                return self.rpc(400)
            return self.rpc(202, "accepted")
        return self.rpc(404)

    # -- v2.0 ------------------------------------------------------------------------

    def v20(self, method: str, path: str, query: dict[str, str],
            payload: Any) -> tuple[int, Any]:
        if path == "login" and method == "POST":
            if payload != {"username": self.user, "password": self.password}:
                return 401, "Unauthorized"
            token = f"OpaqueRef:{secrets.token_hex(8)}"
            self.tokens.add(token)
            return 200, token
        token = query.get("authtoken") if method == "GET" else (payload or {}).get("authtoken")
        if token not in self.tokens:
            return 401, "Unauthorized"
        if path == "servers" and method == "GET":
            return 200, {f"{card}/0": self.server(card) for card in sorted(self.cards, key=int)}
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "servers" and parts[2] == "0" \
                and parts[1] in self.cards:
            card = self.cards[parts[1]]
            if method == "GET":
                return 200, self.server(parts[1])
            if method == "PUT":
                action = {k: v for k, v in payload.items() if k != "authtoken"}
                if action == {"action": "power-on", "using-pxe": True}:
                    card.active, card.pxe_boots = True, card.pxe_boots + 1
                elif action == {"action": "power-off", "force": True}:
                    card.active, card.forced_offs = False, card.forced_offs + 1
                else:
                    return 400, "bad action"
                return 200, {}
        return 404, "not found"

    def server(self, card_id: str) -> dict[str, Any]:
        card = self.cards[card_id]
        return {"active": card.active, "serverId": f"{card_id}/0",
                "nic": {str(i): {"macAddr": mac} for i, mac in enumerate(card.macs)}}
