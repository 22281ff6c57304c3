"""RPCClient: every call has a deadline, and a caller may only shorten it."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from rpc.client import RPCClient, effective_timeout
from rpc.commands.cluster import ConfigureDHCPv4, PowerQuery
from rpc.commands.region import GetProxies
from rpc.protocol import RPCProtocol
from rpc.testing import authenticated_pair
from tests.unit.rpc.examples import examples

SECRET = b"0123456789abcdef"


class Peer(RPCProtocol):
    def __init__(self) -> None:
        super().__init__(ident="peer", secret=SECRET, name="peer-host:pid=9")

    @PowerQuery.responder
    def power_query(self, system_id: str, **kwargs: Any) -> dict[str, str]:
        if system_id == "boom":
            raise KeyError("bug")
        return {"state": "off"}

    @GetProxies.responder
    def get_proxies(self) -> dict[str, Any]:
        return {}


def caller() -> RPCProtocol:
    return RPCProtocol(ident="caller", secret=SECRET, name="caller-host:pid=1")


class TestTimeouts(SynchronousTestCase):
    """The peer stays silent (nothing is pumped) while the clock runs."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.protocol, self.peer, self.pump = authenticated_pair(Peer, caller, SECRET)
        self.client = RPCClient(self.protocol, self.clock)

    def call(self, command: type[amp.Command], **kwargs: Any) -> Deferred[Any]:
        arguments, _ = examples(command.arguments)
        return Deferred.fromCoroutine(self.client.call(command, **arguments, **kwargs))

    def assert_times_out_at(self, d: Deferred[Any], seconds: float) -> None:
        self.clock.advance(seconds - 0.001)
        self.assertNoResult(d)
        self.clock.advance(0.001)
        self.failureResultOf(d, TimeoutError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_command_timeout_fires_not_before(self) -> None:
        """PowerQuery gives up after its own 60 s, not a moment earlier."""
        self.assert_times_out_at(self.call(PowerQuery), PowerQuery.timeout)
        self.assertEqual(PowerQuery.timeout, 60.0)

    def test_default_timeout_is_two_minutes(self) -> None:
        """A command without its own timeout gives up after 120 s."""
        self.assert_times_out_at(self.call(GetProxies), 120.0)

    def test_dhcp_timeout_is_thirty_seconds(self) -> None:
        """DHCP commands give up after 30 s."""
        self.assert_times_out_at(self.call(ConfigureDHCPv4), 30.0)

    def test_caller_can_shorten_the_timeout(self) -> None:
        """timeout=5 makes a 60 s command give up after 5 s."""
        self.assert_times_out_at(self.call(PowerQuery, timeout=5), 5.0)

    def test_caller_cannot_lengthen_the_timeout(self) -> None:
        """Asking for 10 minutes still gives up at the command's 60 s."""
        self.assert_times_out_at(self.call(PowerQuery, timeout=600), 60.0)

    def test_late_answer_is_ignored(self) -> None:
        """After the deadline, the peer's answer changes nothing and breaks nothing."""
        d = self.call(PowerQuery)
        self.clock.advance(60)
        self.failureResultOf(d, TimeoutError)
        self.pump.flush()
        self.assertFalse(self.protocol.transport.disconnecting)

    def test_answer_in_time_cancels_the_timer(self) -> None:
        """An answer before the deadline is returned and leaves no delayed call behind."""
        d = self.call(PowerQuery)
        self.pump.flush()
        self.assertEqual(self.successResultOf(d), {"state": "off"})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unknown_remote_error_is_logged_with_its_reference(self) -> None:
        """The caller logs the peer's reference too, so both logs can be matched."""
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        arguments, _ = examples(PowerQuery.arguments)
        arguments["system_id"] = "boom"
        d = Deferred.fromCoroutine(self.client.call(PowerQuery, **arguments))
        self.pump.flush()
        failure = self.failureResultOf(d, amp.UnknownRemoteError)
        warning = [e for e in events if e.get("command") == "PowerQuery" and "description" in e]
        self.assertEqual(warning[0]["description"], failure.value.description)
        self.assertIn("peer-host:pid=9:cmd=PowerQuery", failure.value.description)
        self.flushLoggedErrors(KeyError)


@pytest.mark.parametrize(("asked", "expected"), [(None, 60.0), (5, 5.0), (60, 60.0), (61, 60.0)])
def test_effective_timeout(asked: float | None, expected: float) -> None:
    """The deadline is the command's, or the caller's when shorter."""
    assert effective_timeout(PowerQuery, asked) == expected


@pytest.mark.parametrize("asked", [0, -1])
def test_effective_timeout_must_be_positive(asked: float) -> None:
    """A zero or negative timeout is a programming error."""
    with pytest.raises(ValueError):
        effective_timeout(PowerQuery, asked)
