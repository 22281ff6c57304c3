"""
Bits the fake HTTP devices share: a recorded request, Basic-auth checking, a loopback listener.

Each fake device (DLI switch, OCS chassis manager, SeaMicro, UCS Manager,
webhook target) is a ``twisted.web`` resource tree; :func:`listen` serves it
on 127.0.0.1 on a free port and returns the port and its ``host:port``.
"""

from __future__ import annotations

import base64
from typing import Any

import attrs
from twisted.web.server import Request, Site


@attrs.define
class Seen:
    """One request as the device received it."""

    method: str
    path: str
    args: dict[str, list[str]]
    user: str | None
    password: str | None
    headers: dict[str, str]
    body: bytes


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.getHeader("authorization") or ""
    if not header.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None, None
    return user, password


def seen(request: Request) -> Seen:
    user, password = basic_credentials(request)
    args = {k.decode(): [v.decode() for v in vs] for k, vs in (request.args or {}).items()}
    headers = {k.decode().lower(): v[0].decode()
               for k, v in request.requestHeaders.getAllRawHeaders()}
    request.content.seek(0)
    return Seen(request.method.decode(), request.path.decode(), args, user, password,
                headers, request.content.read())


def refuse(request: Request, realm: str = "device") -> bytes:
    request.setResponseCode(401)
    request.setHeader("WWW-Authenticate", f'Basic realm="{realm}"')
    return b"401 Unauthorized"


def listen(reactor: Any, resource: Any) -> tuple[Any, str]:
    port = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
    return port, f"127.0.0.1:{port.getHost().port}"
