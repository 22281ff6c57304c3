"""
Finding the region's RPC event loops: ``GET <region-url>rpc/``.

The region answers (MAAS 1.8, §6.1 of the reference)::

    {"eventloops": {"<host>:pid=<pid>": [["10.0.0.1", 5250], ...], ...}}

or ``{"eventloops": null}`` (or a 503) while it is not advertising yet; both
mean "nothing to connect to yet", not an error.  The request uses Twisted's
HTTP ``Agent`` with a connect timeout and an overall deadline on the injected
clock, and the body is capped: a confused server cannot hold the cluster or
fill its memory.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

#: Seconds to establish the TCP connection to the region (style §2.6).
CONNECT_TIMEOUT = 10.0
#: Seconds the whole request may take, body included.
REQUEST_TIMEOUT = 30.0
#: The largest answer accepted, in bytes.
MAX_BODY = 1024 * 1024

#: Event-loop name -> its (address, port) endpoints, in the order advertised.
EventLoops = dict[str, list[tuple[str, int]]]


class DiscoveryError(Exception):
    """The region's answer could not be used; the message says why."""


def make_agent(reactor: Any, connect_timeout: float = CONNECT_TIMEOUT) -> IAgent:
    """An Agent for discovery: a fresh connection per request, bounded connect time."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    return Agent(reactor, connectTimeout=connect_timeout, pool=pool)


def parse_eventloops(data: bytes) -> EventLoops | None:
    """
    The event loops in a ``/MAAS/rpc/`` answer, or None when the region
    advertises nothing yet.  Malformed endpoints are skipped; a body that is
    not the documented shape raises DiscoveryError.
    """
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DiscoveryError("the answer is not JSON") from None
    if not isinstance(document, dict) or "eventloops" not in document:
        raise DiscoveryError("the answer has no 'eventloops'")
    eventloops = document["eventloops"]
    if eventloops is None:
        return None
    if not isinstance(eventloops, dict):
        raise DiscoveryError("'eventloops' is neither an object nor null")
    found: EventLoops = {}
    for name, endpoints in eventloops.items():
        if not isinstance(endpoints, list):
            continue
        usable = [endpoint for endpoint in map(_endpoint, endpoints) if endpoint is not None]
        if usable:
            found[str(name)] = usable
    return found


def _endpoint(item: Any) -> tuple[str, int] | None:
    if not isinstance(item, list | tuple) or len(item) != 2:
        return None
    host, port = item
    if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int):
        return None
    if not 1 <= port <= 65535:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host, port


class _CappedBody(Protocol):
    """Collects a response body, giving up beyond ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] = []
        self.done: Deferred[bytes] = Deferred(lambda _: self._stop())

    def _stop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self.size += len(data)
        if self.size > self.limit:
            self._stop()
            self.done.errback(DiscoveryError(f"the answer is larger than {self.limit:,} bytes"))
            return
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = Failure(ResponseDone())) -> None:  # noqa: B008
        if self.done.called:
            return
        if reason.check(ResponseDone):
            self.done.callback(b"".join(self.chunks))
        else:
            self.done.errback(reason)


async def _get(agent: IAgent, url: str, max_body: int) -> EventLoops | None:
    headers = Headers({b"Accept": [b"application/json"], b"User-Agent": [b"maas-cluster"]})
    response: IResponse = await agent.request(b"GET", url.encode("ascii"), headers)
    body = _CappedBody(max_body)
    response.deliverBody(body)
    data = await body.done
    if response.code == 503:
        return None  # the region is up but cannot list its event loops yet (1.8 too)
    if response.code != 200:
        raise DiscoveryError(f"the region answered HTTP {response.code}")
    return parse_eventloops(data)


async def fetch_eventloops(
    agent: IAgent,
    url: str,
    clock: IReactorTime,
    *,
    timeout: float = REQUEST_TIMEOUT,  # noqa: ASYNC109 - a Deferred deadline on clock
    max_body: int = MAX_BODY,
) -> EventLoops | None:
    """
    GET url (``<region-url>rpc/``) and return its event loops, or None if the
    region advertises none yet.  Fails with DiscoveryError for a bad answer,
    ``twisted.internet.defer.TimeoutError`` after ``timeout`` seconds, or the
    connection error.
    """
    request: Deferred[EventLoops | None] = Deferred.fromCoroutine(_get(agent, url, max_body))
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        request.cancel()

    # Not addTimeout: a request cancelled while connecting fails with
    # ConnectingCancelledError, which addTimeout would not turn into a timeout.
    deadline = clock.callLater(timeout, expire)
    try:
        return await request
    except Exception:
        if expired:
            raise TimeoutError(f"no answer from {url} within {timeout:g} seconds") from None
        raise
    finally:
        if deadline.active():
            deadline.cancel()
