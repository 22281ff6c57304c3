"""
A minimal Redfish service that only takes session authentication, for the driver's session mode.

sushy-tools' emulator has no ``SessionService``, so this small service
checks that part: ``POST /redfish/v1/SessionService/Sessions``
``{"UserName", "Password"}`` → 201 with ``X-Auth-Token`` and ``Location``;
every other request needs the token (401 otherwise, Basic is refused);
``DELETE`` of the session's location ends it.  Behind it: the service root,
a one-member ``Systems`` collection, the system (``PowerState``, ``Boot``,
an ``ETag`` that a ``PATCH`` must send back in ``If-Match``, 412 otherwise),
and its ``ComputerSystem.Reset`` action.  Requests are recorded in
:attr:`FakeRedfishSessions.requests` as ``(method, path, token, body)``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request

SYSTEM = "/redfish/v1/Systems/System.Embedded.1"


class FakeRedfishSessions(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.sessions: dict[str, str] = {}  # location -> token
        self.power = "Off"
        self.boot = {"BootSourceOverrideTarget": "None", "BootSourceOverrideEnabled": "Disabled"}
        self.etag = 'W/"1"'
        self.resets: list[str] = []
        self.requests: list[tuple[str, str, str | None, Any]] = []

    def render(self, request: Request) -> bytes:
        method, path = request.method.decode(), request.path.decode().rstrip("/") or "/"
        raw = request.content.read()
        body = json.loads(raw) if raw.strip() else None
        token = request.getHeader("x-auth-token")
        self.requests.append((method, path, token, body))
        request.setHeader("Content-Type", "application/json")
        if path == "/redfish/v1/SessionService/Sessions" and method == "POST":
            if body != {"UserName": self.user, "Password": self.password}:
                return self.fail(request, 401, "Invalid credentials")
            token = secrets.token_hex(16)
            location = f"/redfish/v1/SessionService/Sessions/{len(self.sessions) + 1}"
            self.sessions[location] = token
            request.setResponseCode(201)
            request.setHeader("X-Auth-Token", token)
            request.setHeader("Location", location)
            return json.dumps({"@odata.id": location}).encode()
        if token not in self.sessions.values():
            return self.fail(request, 401, "No valid session")
        if method == "DELETE" and path in self.sessions:
            del self.sessions[path]
            request.setResponseCode(204)
            return b""
        if path == "/redfish/v1" and method == "GET":
            return self.json({"Systems": {"@odata.id": "/redfish/v1/Systems"}})
        if path == "/redfish/v1/Systems" and method == "GET":
            return self.json({"Members": [{"@odata.id": SYSTEM}]})
        if path == SYSTEM and method == "GET":
            request.setHeader("ETag", self.etag)
            return self.json({"@odata.id": SYSTEM, "PowerState": self.power, "Boot": self.boot,
                              "Actions": {"#ComputerSystem.Reset": {
                                  "target": f"{SYSTEM}/Actions/ComputerSystem.Reset",
                                  "ResetType@Redfish.AllowableValues": [
                                      "On", "ForceOff", "GracefulShutdown"]}}})
        if path == SYSTEM and method == "PATCH":
            if request.getHeader("if-match") != self.etag:
                return self.fail(request, 412, "ETag mismatch")
            self.boot.update((body or {}).get("Boot", {}))
            self.etag = f'W/"{int(self.etag[3:-1]) + 1}"'
            request.setResponseCode(204)
            return b""
        if path == f"{SYSTEM}/Actions/ComputerSystem.Reset" and method == "POST":
            kind = (body or {}).get("ResetType")
            if kind not in ("On", "ForceOff", "GracefulShutdown"):
                return self.fail(request, 400, f"ResetType {kind} not allowed")
            self.resets.append(kind)
            self.power = "On" if kind == "On" else "Off"
            request.setResponseCode(204)
            return b""
        return self.fail(request, 404, "Not found")

    @staticmethod
    def json(document: dict[str, Any]) -> bytes:
        return json.dumps(document).encode()

    @staticmethod
    def fail(request: Request, status: int, message: str) -> bytes:
        request.setResponseCode(status)
        return json.dumps({"error": {"code": "Base.1.0.GeneralError", "message": message,
                                     "@Message.ExtendedInfo": [{"Message": message}]}}).encode()
