"""
One HTTP request from the reactor, bounded in time and size, with Basic or Digest auth.

A small generic layer on Twisted's :class:`~twisted.web.client.Agent` for the
power drivers that speak HTTP (WS-Management for ``amt``, the vSphere SOAP API
for ``vmware``, and the REST/XML devices):

- the TCP connect is bounded by ``connect_timeout`` and the whole exchange
  (connect, request, headers *and* body) by ``timeout``, on the injected clock;
  when it passes the connection is aborted and :class:`PowerConnError` raised;
- a body larger than ``max_body`` bytes aborts the connection
  (:class:`PowerActionError`): a device never makes us buffer without limit;
- ``auth`` is :class:`BasicAuth` (sent pre-emptively) or :class:`DigestAuth`
  (RFC 7616: MD5, MD5-sess, SHA-256, SHA-256-sess, ``qop=auth``; the first
  request goes without credentials, the 401 challenge is answered once, and
  the challenge is kept so later requests with the same object go straight
  through with an incremented nonce count).  A second 401 is returned to the
  caller, who decides that it means bad credentials;
- ``verify_tls=False`` accepts any certificate (self-signed BMCs and vCenters,
  as MAAS 1.8 allowed with ``--noverifypeer`` / ``https+unverified``);
- a BMC addressed by an IP literal (the usual case) is connected to directly,
  without a name lookup (:func:`power.endpoints.client_endpoint`);
- a request cancelled by its caller raises :class:`~twisted.internet.defer.CancelledError`,
  not a connection error: nothing failed, somebody stopped waiting.

Secrets never appear in an exception message raised here.  A response is
returned whatever its status: callers map statuses to ``power.errors``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.internet import defer
from twisted.internet.endpoints import wrapClientTLS
from twisted.internet.error import ConnectError, ConnectingCancelledError, ConnectionClosed
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory, IBodyProducer
from zope.interface import implementer

from power.endpoints import client_endpoint
from power.errors import PowerActionError, PowerConnError

#: Default limits (style.md §2.6: 10 s to connect, 30 s for a REST call).
CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
MAX_BODY = 4 * 1024 * 1024


@attrs.frozen
class HTTPResponse:
    """What came back: status, headers (lower-case names, all values), body."""

    status: int
    headers: Mapping[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@attrs.frozen(repr=False)
class BasicAuth:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, ********)"

    def header(self) -> bytes:
        pair = f"{self.username}:{self.password}".encode()
        return b"Basic " + base64.b64encode(pair)


# -- Digest (RFC 7616) ---------------------------------------------------------

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)'
)


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """``WWW-Authenticate`` values as ``[(scheme lower-cased, {param: value})]``."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        rest = value.strip()
        while rest:
            scheme_match = re.match(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*", rest)
            if scheme_match is None:
                break
            scheme = scheme_match.group(1).lower()
            rest = rest[scheme_match.end():]
            params: dict[str, str] = {}
            while rest:
                match = _PARAM.match(rest)
                if match is None:
                    break
                name, raw = match.group(1).lower(), match.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[name] = raw
                rest = rest[match.end():]
            challenges.append((scheme, params))
            rest = rest.lstrip(", ")
    return challenges


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestAuth:
    """
    HTTP Digest credentials, and the last challenge the server sent.

    One object may serve many requests to the same server (not concurrently
    safe in the sense of nonce-count ordering, which servers tolerate).
    """

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.challenge: dict[str, str] | None = None
        self.nonce_count = 0

    def __repr__(self) -> str:
        return f"DigestAuth({self.username!r}, ********)"

    def accept(self, challenges: list[tuple[str, dict[str, str]]]) -> bool:
        """Keep the first Digest challenge we can answer; False if there is none."""
        for scheme, params in challenges:
            algorithm = params.get("algorithm", "MD5").upper()
            base = algorithm.removesuffix("-SESS")
            qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
            if scheme == "digest" and base in _HASHES and "nonce" in params and (
                not qops or "auth" in qops
            ):
                self.challenge = params
                self.nonce_count = 0
                return True
        return False

    def header(self, method: str, uri: str) -> bytes:
        assert self.challenge is not None
        challenge = self.challenge
        algorithm = challenge.get("algorithm", "MD5")
        hash_name = algorithm.upper().removesuffix("-SESS")
        hasher = _HASHES[hash_name]

        def digest(text: str) -> str:
            return hasher(text.encode("utf-8")).hexdigest()

        realm = challenge.get("realm", "")
        nonce = challenge["nonce"]
        self.nonce_count += 1
        nc = f"{self.nonce_count:08x}"
        cnonce = os.urandom(12).hex()
        ha1 = digest(f"{self.username}:{realm}:{self.password}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = digest(f"{ha1}:{nonce}:{cnonce}")
        ha2 = digest(f"{method}:{uri}")
        qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(realm)}",
            f"nonce={_quote(nonce)}",
            f"uri={_quote(uri)}",
            f"algorithm={algorithm}",
        ]
        if qops:
            response = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += [f"response={_quote(response)}", "qop=auth", f"nc={nc}",
                      f"cnonce={_quote(cnonce)}"]
        else:
            parts.append(f"response={_quote(digest(f'{ha1}:{nonce}:{ha2}'))}")
        if "opaque" in challenge:
            parts.append(f"opaque={_quote(challenge['opaque'])}")
        return ("Digest " + ", ".join(parts)).encode("utf-8")


# -- TLS -----------------------------------------------------------------------


def _insecure_policy() -> Any:
    """An IPolicyForHTTPS that accepts any certificate (imports OpenSSL lazily)."""
    from twisted.internet import ssl
    from twisted.web.iweb import IPolicyForHTTPS

    @implementer(IPolicyForHTTPS)
    class AcceptAnyCertificate:
        def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
            return ssl.CertificateOptions(verify=False)

    return AcceptAnyCertificate()


@implementer(IAgentEndpointFactory)
class _Endpoints:
    """Where the Agent connects: IP literals directly, names through HostnameEndpoint."""

    def __init__(self, reactor: Any, connect_timeout: float, policy: Any) -> None:
        self.reactor = reactor
        self.connect_timeout = connect_timeout
        self.policy = policy

    def endpointForURI(self, uri: Any) -> Any:
        host = uri.host.decode("ascii", "replace").removeprefix("[").removesuffix("]")
        endpoint = client_endpoint(self.reactor, host, uri.port, timeout=self.connect_timeout)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(self.policy.creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


# -- the request ---------------------------------------------------------------


class BodyTooLarge(Exception):
    pass


class _Collector(Protocol):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] = []
        self.done: defer.Deferred[bytes] = defer.Deferred(lambda _: self.abort())

    def abort(self) -> None:
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.abort()
            self.done.errback(BodyTooLarge(f"more than {self.limit} bytes"))
            return
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = ResponseDone) -> None:  # type: ignore[assignment]
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.chunks))
        else:
            self.done.errback(reason)


def _describe(error: BaseException) -> str:
    if isinstance(error, ResponseFailed):
        reasons = [f.getErrorMessage() or type(f.value).__name__ for f in error.reasons]
        return "; ".join(reasons) or "the connection failed"
    return str(error) or type(error).__name__


async def request(
    reactor: Any,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    auth: BasicAuth | DigestAuth | None = None,
    timeout: float = REQUEST_TIMEOUT,  # noqa: ASYNC109 (enforced with addTimeout)
    connect_timeout: float = CONNECT_TIMEOUT,
    verify_tls: bool = True,
    max_body: int = MAX_BODY,
    clock: Any | None = None,
    pool: Any | None = None,
) -> HTTPResponse:
    """
    Send one request (two when a Digest challenge must be answered).

    :raises PowerConnError: the server could not be reached, dropped the
        connection, or did not answer within ``timeout``.
    :raises PowerActionError: the body was larger than ``max_body``.
    """
    clock = clock if clock is not None else reactor
    policy = BrowserLikePolicyForHTTPS() if verify_tls else _insecure_policy()
    agent = Agent.usingEndpointFactory(
        reactor, _Endpoints(reactor, connect_timeout, policy), pool=pool)
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}"
    request_uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def once() -> HTTPResponse:
        sent = Headers({k.encode(): [v.encode()] for k, v in (headers or {}).items()})
        if isinstance(auth, BasicAuth):
            sent.setRawHeaders(b"authorization", [auth.header()])
        elif isinstance(auth, DigestAuth) and auth.challenge is not None:
            sent.setRawHeaders(b"authorization", [auth.header(method, request_uri)])
        producer = _BytesProducer(body) if body is not None else None
        d = agent.request(method.encode(), url.encode(), sent, producer)

        def read(response: Any) -> defer.Deferred[HTTPResponse]:
            collector = _Collector(max_body)
            response.deliverBody(collector)
            found = {
                name.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
                for name, values in response.headers.getAllRawHeaders()
            }
            return collector.done.addCallback(
                lambda data: HTTPResponse(response.code, found, data))

        timed_out = False

        def expired(result: object, seconds: float) -> object:
            nonlocal timed_out
            timed_out = True
            return result

        d.addCallback(read)
        d.addTimeout(timeout, clock, onTimeoutCancel=expired)
        try:
            return await d
        except (defer.TimeoutError, defer.CancelledError, ConnectingCancelledError,
                ResponseFailed) as error:
            if timed_out:
                raise PowerConnError(
                    f"{where} did not answer within {timeout:g} seconds.") from None
            if not isinstance(error, ResponseFailed) or any(
                    reason.check(defer.CancelledError) for reason in error.reasons):
                raise defer.CancelledError() from None  # our caller stopped waiting
            raise PowerConnError(f"Could not talk to {where}: {_describe(error)}") from None
        except BodyTooLarge:
            raise PowerActionError(
                f"{where} sent a response larger than {max_body} bytes.") from None
        except (ConnectError, ConnectionClosed, OSError) as error:
            raise PowerConnError(f"Could not talk to {where}: {_describe(error)}") from None

    response = await once()
    if response.status == 401 and isinstance(auth, DigestAuth):
        challenges = parse_challenges(response.headers.get("www-authenticate", []))
        if auth.accept(challenges):
            response = await once()
    return response


@implementer(IBodyProducer)
class _BytesProducer:
    """A request body that is already in memory, written in one go."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        consumer.write(self.data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass
