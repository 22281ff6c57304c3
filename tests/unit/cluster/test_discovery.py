"""Discovery of the region's event loops: parsing, HTTP outcomes, the deadline."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone

from cluster.rpc.discovery import (
    DiscoveryError,
    fetch_eventloops,
    make_agent,
    parse_eventloops,
)

URL = "http://region.example:5240/MAAS/rpc/"


class FakeProducer:
    stopped = False

    def stopProducing(self) -> None:
        self.stopped = True


class FakeResponse:
    def __init__(self, code: int, body: bytes, chunk: int = 1 << 20) -> None:
        self.code = code
        self.body = body
        self.chunk = chunk
        self.producer = FakeProducer()

    def deliverBody(self, protocol: Protocol) -> None:
        protocol.makeConnection(self.producer)  # type: ignore[arg-type]
        for start in range(0, len(self.body), self.chunk):
            protocol.dataReceived(self.body[start:start + self.chunk])
        protocol.connectionLost(Failure(ResponseDone()))


class FakeAgent:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[tuple[bytes, bytes, Any]] = []

    def request(self, method: bytes, uri: bytes, headers: Any = None,
                bodyProducer: Any = None) -> Deferred[Any]:
        self.requests.append((method, uri, headers))
        if isinstance(self.answer, Exception):
            return fail(self.answer)
        return succeed(self.answer)


class TestParse(SynchronousTestCase):
    def test_eventloops_are_read_in_order(self) -> None:
        """Each event loop keeps its endpoints in the advertised order."""
        body = json.dumps({"eventloops": {"host:pid=1": [["10.0.0.1", 5250],
                                                         ["192.168.1.1", 5250]],
                                          "host:pid=2": [["10.0.0.1", 5251]]}}).encode()
        self.assertEqual(parse_eventloops(body), {
            "host:pid=1": [("10.0.0.1", 5250), ("192.168.1.1", 5250)],
            "host:pid=2": [("10.0.0.1", 5251)]})

    def test_null_means_nothing_yet(self) -> None:
        """{"eventloops": null}: None, not an error."""
        self.assertIsNone(parse_eventloops(b'{"eventloops": null}'))
        self.assertEqual(parse_eventloops(b'{"eventloops": {}}'), {})

    def test_malformed_endpoints_are_skipped(self) -> None:
        """Bad ports, non-addresses and odd shapes are dropped; loops left empty vanish."""
        body = json.dumps({"eventloops": {
            "a": [["10.0.0.1", 0], ["10.0.0.1", "5250"], ["not an ip", 5250], ["10.0.0.1"],
                  ["10.0.0.1", True], ["10.0.0.2", 5252]],
            "b": "nonsense", "c": [["10.0.0.3", 70000]]}}).encode()
        self.assertEqual(parse_eventloops(body), {"a": [("10.0.0.2", 5252)]})

    def test_wrong_shapes_are_errors(self) -> None:
        """Not JSON, no eventloops, eventloops of the wrong type: DiscoveryError."""
        for body in (b"<html>", b"[]", b'{"loops": {}}', b'{"eventloops": []}', b"\xff"):
            self.assertRaises(DiscoveryError, parse_eventloops, body)


class TestFetch(SynchronousTestCase):
    def fetch(self, agent: Any, **kwargs: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(fetch_eventloops(agent, URL, MemoryReactorClock(),
                                                       **kwargs))

    def test_ok(self) -> None:
        """200 with the documented body: the event loops; GET to the rpc/ URL."""
        agent = FakeAgent(FakeResponse(200, b'{"eventloops": {"h:pid=1": [["10.0.0.1", 5250]]}}'))
        self.assertEqual(self.successResultOf(self.fetch(agent)),
                         {"h:pid=1": [("10.0.0.1", 5250)]})
        [(method, uri, _)] = agent.requests
        self.assertEqual((method, uri), (b"GET", URL.encode()))

    def test_503_means_nothing_yet(self) -> None:
        """A 503 is treated like null, as 1.8's clusters did."""
        agent = FakeAgent(FakeResponse(503, b"The MAAS database is unavailable"))
        self.assertIsNone(self.successResultOf(self.fetch(agent)))

    def test_other_statuses_are_errors(self) -> None:
        """A 404 (wrong region URL) says so."""
        failure = self.failureResultOf(self.fetch(FakeAgent(FakeResponse(404, b"no"))),
                                       DiscoveryError)
        self.assertIn("HTTP 404", str(failure.value))

    def test_connection_errors_pass_through(self) -> None:
        """A refused connection fails the fetch with that error."""
        self.failureResultOf(self.fetch(FakeAgent(ConnectionRefusedError())),
                             ConnectionRefusedError)

    def test_the_body_is_capped(self) -> None:
        """A body over the cap is abandoned (the transfer stopped)."""
        response = FakeResponse(200, b"x" * 5000, chunk=1000)
        failure = self.failureResultOf(self.fetch(FakeAgent(response), max_body=2048),
                                       DiscoveryError)
        self.assertIn("larger than 2,048 bytes", str(failure.value))
        self.assertTrue(response.producer.stopped)

    def test_a_silent_region_times_out(self) -> None:
        """The real Agent against a region that never answers: TimeoutError after 30 s,
        and the connection attempt has a 10 s connect timeout."""
        reactor = MemoryReactorClock()
        agent = make_agent(reactor)
        result = Deferred.fromCoroutine(fetch_eventloops(
            agent, "http://10.0.0.1:5240/MAAS/rpc/", reactor))
        [(_, port, _, timeout, _)] = reactor.tcpClients  # (MemoryReactor resolves to loopback)
        self.assertEqual((port, timeout), (5240, 10.0))
        reactor.advance(29)
        self.assertNoResult(result)
        reactor.advance(1)
        self.failureResultOf(result, TimeoutError)
