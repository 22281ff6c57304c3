"""
The region's HTTP site: one root that sends each prefix to its server.

``/MAAS/api/1.0/`` and ``/api/1.0/`` go to the API dispatcher; other parts
of the region (the metadata service, the RPC endpoint list) add their own
prefixes.  Request bodies are capped; over the cap the body is discarded as
it arrives and the request is answered 413.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import combinedLogFormatter
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from region.api.resource import API_ROOTS, APIDispatcher
from region.api.responses import Response

#: Largest request body accepted, in bytes.
MAX_BODY = 256 * 1024 * 1024

Serve = Callable[[Request, str], Awaitable[Response]]


class LimitedRequest(Request):
    """A request that leaves body parsing to us and refuses oversized bodies."""

    max_body = MAX_BODY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)
        self.body_too_large = False
        self._received = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.max_body:
            self.body_too_large = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self.max_body:
            self.body_too_large = True
        if not self.body_too_large:
            super().handleContentChunk(data)


class RegionRoot(Resource):
    """
    Route every request by path prefix.

    :param api: serves the REST API.
    :param api_hash: sent as ``X-MAAS-API-Hash`` on every API response.
    :param routes: other ``(prefix, serve)`` pairs; serve gets the request and
        the path after the prefix.
    """

    isLeaf = True
    log = Logger()

    def __init__(self, api: APIDispatcher, api_hash: str,
                 routes: Sequence[tuple[str, Serve]] = ()) -> None:
        super().__init__()
        self.api = api
        self.api_hash = api_hash
        self.routes = list(routes)

    def _choose(self, request: Request) -> tuple[Awaitable[Response] | None, dict[str, str]]:
        path = request.path.decode("latin-1")
        for root in API_ROOTS:
            if path.startswith(root):
                headers = {"X-MAAS-API-Hash": self.api_hash}
                return self.api.handle(request, root, path[len(root):]), headers
        for prefix, serve in self.routes:
            if path.startswith(prefix):
                return serve(request, path[len(prefix):]), {}
        return None, {}

    def render(self, request: Request) -> Any:
        if getattr(request, "body_too_large", False):
            self._write(request, Response.text(
                f"Request body too large; the limit is {MAX_BODY} bytes.", 413), {})
            return NOT_DONE_YET
        pending, headers = self._choose(request)
        if pending is None:
            path = request.path.decode("latin-1")
            self._write(request, Response.text(f"Not found: {path}", 404), {})
            return NOT_DONE_YET
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        async def run() -> None:
            response = await pending
            if not gone:
                self._write(request, response, headers)

        def failed(failure: Failure) -> None:
            self.log.failure("Failed to answer {path}", failure, path=request.path)
            if not gone:
                self._write(request, Response.text("Internal server error.", 500), headers)

        Deferred.fromCoroutine(run()).addErrback(failed)
        return NOT_DONE_YET

    @staticmethod
    def _write(request: Request, response: Response, headers: dict[str, str]) -> None:
        request.setResponseCode(response.status)
        request.setHeader(b"Content-Type", response.content_type.encode("latin-1"))
        for name, value in {**headers, **response.headers}.items():
            request.setHeader(name.encode("latin-1"), value.encode("latin-1"))
        if response.status != 204:
            request.setHeader(b"Content-Length", str(len(response.body)).encode("ascii"))
            if request.method != b"HEAD":
                request.write(response.body)
        request.finish()


_SECRET_QUERY = re.compile(rb"(oauth_signature=)[^&\s]*", re.IGNORECASE)


class _Redacted:
    """A view of a request for the access log, its OAuth signature blanked out."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.uri = _SECRET_QUERY.sub(rb"\1<redacted>", request.uri)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def redacting_log_formatter(timestamp: str, request: Request) -> str:
    """The combined log format, without the OAuth signature (PLAINTEXT: the token
    secret itself) that clients signing in the query string would leave in it."""
    return combinedLogFormatter(timestamp, _Redacted(request))


def make_site(root: RegionRoot) -> Site:
    site = Site(root, requestFactory=LimitedRequest, logFormatter=redacting_log_formatter)
    site.displayTracebacks = False
    return site
