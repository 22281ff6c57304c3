"""
The HTTP side of the API: from a Twisted request to an operation and back.

Everything is decided from the registry: the handler (by path), the
operation (by method and ``op``), who may call it, and its parameters.  The
order of the checks follows MAAS 1.8 (piston): authenticate first, then find
the operation, then check permissions, then parse the parameters.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from twisted.logger import Logger
from twisted.web.server import Request

from region.api import registry as reg
from region.api.auth import OAuthVerifier
from region.api.context import RequestContext, Services
from region.api.errors import (
    APIError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from region.api.params import Params, parse_body, parse_query
from region.api.responses import Response, to_response
from region.db.pool import DatabaseUnavailable

#: The prefixes under which the API is served; both reach the same handlers.
API_ROOTS = ("/MAAS/api/1.0/", "/api/1.0/")

_NOT_LOGGED_IN = "Authorization Error: this operation needs an API key (OAuth 1.0a credentials)."


def request_headers(request: Request) -> dict[str, str]:
    return {
        key.decode("latin-1"): values[-1].decode("latin-1")
        for key, values in request.requestHeaders.getAllRawHeaders()
    }


def request_body(request: Request) -> bytes:
    content = request.content
    if content is None:
        return b""
    content.seek(0)
    body: bytes = content.read()
    content.seek(0)
    return body


def absolute_root(request: Request, root: str) -> str:
    host = (request.getHeader(b"host") or b"localhost").decode("latin-1")
    scheme = "https" if request.isSecure() else "http"
    return f"{scheme}://{host}{root}"


def _decode_path_args(raw: dict[str, str]) -> dict[str, str]:
    decoded = {name: unquote(value, encoding="utf-8", errors="strict")
               for name, value in raw.items()}
    if any("\x00" in value for value in decoded.values()):
        raise NotFound("No resource has a NUL character in its name.")
    return decoded


class APIDispatcher:
    """
    Serve one API request from the registry.

    :param registry: every handler and operation.
    :param services: the collaborators handed to operations.
    :param verifier: decides who sent a request.
    """

    log = Logger()

    def __init__(self, registry: reg.Registry, services: Services, verifier: OAuthVerifier) -> None:
        self.registry = registry
        self.services = services
        self.verifier = verifier

    async def handle(self, request: Request, root: str, path: str) -> Response:
        """Answer request; path is relative to the API root it came through."""
        started = time.monotonic()
        try:
            response = await self._dispatch(request, root, path)
        except APIError as error:
            body, content_type = error.render()
            response = Response(body, error.status, content_type, dict(error.headers))
        except DatabaseUnavailable as error:
            self.log.warn("Database unavailable: {error}", error=str(error))
            unavailable = ServiceUnavailable("The MAAS database is unavailable; try again shortly.")
            response = Response(unavailable.message.encode(), 503,
                                headers=dict(unavailable.headers))
        except Exception as error:
            status = getattr(error, "api_status", None)
            if isinstance(status, int):
                # A domain error that declares its HTTP status (e.g. an invalid
                # node status transition, 409), without depending on the API.
                response = Response.text(str(error), status)
            else:
                self.log.failure("Unhandled error serving {method} {path}",
                                 method=request.method.decode("latin-1"), path=request.path)
                response = Response.text(
                    "Internal server error: this is a bug in MAAS; the region log has details.",
                    500)
        self.log.debug("{method} {uri} {status} {ms:.1f}ms",
                       method=request.method.decode("latin-1"),
                       uri=request.uri.decode("latin-1", errors="replace"),
                       status=response.status, ms=(time.monotonic() - started) * 1000)
        return response

    async def _dispatch(self, request: Request, root: str, path: str) -> Response:
        found = self.registry.match(path)
        if found is None:
            raise NotFound(f"Unknown API endpoint: {request.path.decode('latin-1')}.")
        handler, raw_args = found
        try:
            path_args = _decode_path_args(raw_args)
        except UnicodeDecodeError:
            raise BadRequest("The path is not valid UTF-8.") from None
        method = request.method.decode("ascii", errors="replace").upper()
        if method == "HEAD":
            method = "GET"
        params = self._params(request, method)
        credentials = await self._authenticate(request, method)
        op_name = params.get("op") or None
        operation = handler.lookup(method, op_name)
        user = credentials.user if credentials else None
        self._authorize(handler, operation, user, method, op_name)
        assert operation is not None
        args = operation.parse(params)
        context = RequestContext(
            services=self.services, request=request, params=params, user=user,
            token=credentials.token if credentials else None,
            base_uri=absolute_root(request, root),
        )
        result = await operation.func(context, **path_args, **args)
        return to_response(result)

    def _params(self, request: Request, method: str) -> Params:
        query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
        params = parse_query(query)
        if method in ("POST", "PUT"):
            raw_type = request.getHeader(b"content-type")
            content_type = raw_type.decode("latin-1") if raw_type else None
            params = params.merged(parse_body(content_type, request_body(request)))
        return params

    async def _authenticate(self, request: Request, method: str) -> Any:
        uri = "http://localhost" + request.uri.decode("latin-1")
        body = request_body(request) if method in ("POST", "PUT") else None
        return await self.verifier.authenticate(method, uri, request_headers(request), body)

    @staticmethod
    def _signature_error(handler: reg.Handler, method: str, op_name: str | None) -> APIError:
        if method not in handler.allowed_methods:
            return MethodNotAllowed(handler.allowed_methods)
        return BadRequest(f"Unrecognised signature: method={method} op={op_name}")

    def _authorize(self, handler: reg.Handler, operation: reg.Operation | None,
                   user: Any, method: str, op_name: str | None) -> None:
        anonymous_ok = operation is not None and operation.auth == reg.ANONYMOUS
        if user is None:
            if anonymous_ok:
                return
            if handler.admin_only:
                raise Forbidden("User is not allowed access to this API.")
            if operation is None and handler.has_anonymous_operations:
                raise self._signature_error(handler, method, op_name)
            raise Unauthorized(_NOT_LOGGED_IN)
        if not user.is_active:
            raise Forbidden("This account is inactive.")
        if handler.admin_only and not user.is_superuser and not anonymous_ok:
            raise Forbidden("User is not allowed access to this API.")
        if operation is None:
            raise self._signature_error(handler, method, op_name)
        if operation.auth == reg.ADMIN and not user.is_superuser:
            raise Forbidden("This method is reserved for admin users.")
