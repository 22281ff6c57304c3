"""RPCProtocol: the authentication gate, referenced errors, size checks, a lasting connection."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.protocols import amp
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from rpc.auth import authenticate_peer
from rpc.commands.cluster import PowerOn, PowerQuery
from rpc.commands.common import Identify
from rpc.commands.region import CreateNode, RegisterV2
from rpc.errors import NotAuthenticated, PayloadTooLarge, PowerActionFail
from rpc.protocol import MAX_DESCRIPTION, AuthState, RPCProtocol
from rpc.testing import authenticated_pair, connect_pair

SECRET = b"0123456789abcdef"
POWER = {"system_id": "node-1", "hostname": "n1", "power_type": "ipmi",
         "context": {"power_address": "10.0.0.9", "power_pass": "s3cret"}}


class Cluster(RPCProtocol):
    """A cluster whose PowerQuery misbehaves on request (by system_id)."""

    def __init__(self) -> None:
        super().__init__(ident="c0ffee", secret=SECRET, name="cluster-host:pid=42")

    @PowerQuery.responder
    def power_query(self, system_id: str, **kwargs: Any) -> dict[str, Any]:
        if system_id == "boom":
            raise ZeroDivisionError("a bug")
        if system_id == "fail":
            raise PowerActionFail("ipmipower failed with return code 1")
        if system_id == "verbose":
            raise PowerActionFail("x" * 100_000)
        if system_id == "big":
            return {"state": "x" * 70_000}
        if system_id == "unserialisable":
            return {"state": b"s3cret"}
        return {"state": "on"}


class Region(RPCProtocol):
    def __init__(self) -> None:
        super().__init__(ident="region-host:pid=7", secret=SECRET, name="region-host:pid=7")

    @RegisterV2.responder
    def register(self, uuid: str, **kwargs: Any) -> dict[str, Any]:
        from rpc.commands.region import ClusterStatus

        return {"status": ClusterStatus.PENDING}


def query(client: RPCProtocol, pump: Any, system_id: str = "node-1") -> Deferred[Any]:
    d = client.callRemote(PowerQuery, **{**POWER, "system_id": system_id})
    pump.flush()
    return d


class TestGate(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        # The region (client) calls the cluster (server).
        self.region, self.cluster, self.pump = connect_pair(Cluster, Region)

    def test_commands_before_authentication_are_refused(self) -> None:
        """Until the cluster has authenticated the region, the region's commands are refused."""
        failure = self.failureResultOf(query(self.region, self.pump), NotAuthenticated)
        self.assertIn("PowerQuery refused", str(failure.value))
        warnings = [e for e in self.events if "Refused" in e.get("log_format", "")]
        self.assertEqual(warnings[0]["command"], "PowerQuery")
        self.assertFalse(self.region.transport.disconnecting)

    def test_identify_and_authenticate_are_always_answered(self) -> None:
        """The handshake's own commands pass the gate."""
        d = self.region.callRemote(Identify)
        self.pump.flush()
        self.assertEqual(self.successResultOf(d), {"ident": "c0ffee"})
        d = Deferred.fromCoroutine(authenticate_peer(self.region, SECRET))
        self.pump.flush()
        self.successResultOf(d)

    def test_commands_after_authentication_are_answered(self) -> None:
        """Once both sides are authenticated, commands are served."""
        region, _cluster, pump = authenticated_pair(Cluster, Region, SECRET)
        self.assertEqual(self.successResultOf(query(region, pump)), {"state": "on"})

    def test_commands_during_the_challenge_are_held_then_answered(self) -> None:
        """A command that arrives while its sender is being challenged waits for the verdict."""
        challenge = Deferred.fromCoroutine(authenticate_peer(self.cluster, SECRET))
        self.assertIs(self.cluster.auth_state, AuthState.AUTHENTICATING)
        d = self.region.callRemote(PowerQuery, **POWER)
        self.pump.flush()
        self.successResultOf(challenge)
        self.assertEqual(self.successResultOf(d), {"state": "on"})

    def test_commands_during_a_failed_challenge_are_refused(self) -> None:
        """Commands held during a challenge that fails are refused, typed."""
        challenge = Deferred.fromCoroutine(authenticate_peer(self.cluster, b"another secret!!"))
        d = self.region.callRemote(PowerQuery, **POWER)
        self.pump.flush()
        self.failureResultOf(challenge)
        self.failureResultOf(d, NotAuthenticated)

    def test_register_racing_the_regions_challenge(self) -> None:
        """Both sides challenge at once and the cluster registers at once: nothing is refused."""
        cluster, region, pump = connect_pair(Region, Cluster)
        region_side = Deferred.fromCoroutine(authenticate_peer(region, SECRET))
        cluster_side = Deferred.fromCoroutine(authenticate_peer(cluster, SECRET))
        registered = cluster.callRemote(RegisterV2, uuid="c0ffee")
        pump.flush()
        self.successResultOf(region_side)
        self.successResultOf(cluster_side)
        self.assertEqual(self.successResultOf(registered)["status"].value, "PENDING")


class TestErrors(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.region, self.cluster, self.pump = authenticated_pair(Cluster, Region, SECRET)

    def failures_logged(self) -> list[dict[str, Any]]:
        return [e for e in self.events if "log_failure" in e]

    def assert_still_connected(self) -> None:
        self.assertFalse(self.region.transport.disconnecting)
        self.assertFalse(self.cluster.transport.disconnecting)
        self.assertEqual(self.successResultOf(query(self.region, self.pump)), {"state": "on"})

    def test_undeclared_exception_becomes_a_referenced_remote_error(self) -> None:
        """A bug in a responder: the caller gets UNKNOWN with a reference, the responder logs it."""
        d = query(self.region, self.pump, "boom")
        failure = self.failureResultOf(d, amp.UnknownRemoteError)
        reference = "cluster-host:pid=42:cmd=PowerQuery:ask="
        self.assertIn(reference, failure.value.description)
        self.assertIn("ZeroDivisionError", failure.value.description)
        self.assertNotIn("a bug", failure.value.description)
        [event] = self.failures_logged()
        self.assertTrue(event["reference"].startswith(reference))
        self.assertIn(event["reference"], failure.value.description)
        self.assertEqual(event["command"], "PowerQuery")
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assert_still_connected()

    def test_declared_error_arrives_typed(self) -> None:
        """A declared error reaches the caller as its type, with its message, and is not logged."""
        failure = self.failureResultOf(query(self.region, self.pump, "fail"), PowerActionFail)
        self.assertEqual(str(failure.value), "ipmipower failed with return code 1")
        self.assertEqual(self.failures_logged(), [])

    def test_long_error_descriptions_are_truncated(self) -> None:
        """An error description never threatens the 64 KiB limit."""
        failure = self.failureResultOf(query(self.region, self.pump, "verbose"), PowerActionFail)
        self.assertEqual(len(str(failure.value)), MAX_DESCRIPTION)
        self.assert_still_connected()

    def test_oversized_answer_becomes_a_referenced_remote_error(self) -> None:
        """An answer over 64 KiB is not sent: the caller gets a referenced error instead."""
        failure = self.failureResultOf(query(self.region, self.pump, "big"), amp.UnknownRemoteError)
        self.assertIn("PayloadTooLarge", failure.value.description)
        self.assertEqual(len(self.flushLoggedErrors(PayloadTooLarge)), 1)
        self.assert_still_connected()

    def test_unserialisable_answer_is_logged_without_its_content(self) -> None:
        """AMP's BadLocalReturn repr()s the whole answer; the log keeps only its cause."""
        d = query(self.region, self.pump, "unserialisable")
        self.failureResultOf(d, amp.UnknownRemoteError)
        [event] = self.failures_logged()
        text = formatEvent(event) + event["log_failure"].getTraceback()
        self.assertNotIn("s3cret", text)
        self.flushLoggedErrors()
        self.assert_still_connected()

    def test_oversized_arguments_are_refused_before_sending(self) -> None:
        """A call whose argument is over 64 KiB fails locally, naming it; nothing is written."""
        d = self.region.callRemote(CreateNode, cluster_uuid="c", architecture="amd64/generic",
                                   power_type="ipmi", power_parameters="{" + "x" * 70_000 + "}",
                                   mac_addresses=[])
        self.assertFalse(self.region.transport.getOutBuffer())
        self.assertEqual(self.failureResultOf(d, PayloadTooLarge).value.name, "power_parameters")
        self.assert_still_connected()

    def test_oversized_list_items_are_refused_before_sending(self) -> None:
        """A ListOf element over 64 KiB fails the call with PayloadTooLarge too."""
        d = self.region.callRemote(CreateNode, cluster_uuid="c", architecture="a", power_type="",
                                   power_parameters="{}", mac_addresses=["m" * 70_000])
        self.assertIn("list element", str(self.failureResultOf(d, PayloadTooLarge).value))
        self.assert_still_connected()

    def test_unhandled_error_keeps_the_connection(self) -> None:
        """Where AMP would drop the connection, RPCProtocol logs and carries on."""
        self.region.unhandledError(Failure(RuntimeError("stray")))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assert_still_connected()

    def test_error_answered_before_the_caller_listens_is_not_swallowed(self) -> None:
        """The caller's Deferred keeps the error even if its errback comes later."""
        d = self.region.callRemote(PowerOn, **{**POWER, "system_id": "x"})
        self.pump.flush()  # Cluster has no PowerOn responder: UNHANDLED.
        self.failureResultOf(d, amp.UnhandledCommand)
        self.assertEqual(self.failures_logged(), [])
        self.assert_still_connected()

    def test_command_reference_format(self) -> None:
        """References read host:pid=N:cmd=X:ask=N."""
        ref = self.cluster.make_command_ref(b"PowerQuery", b"1f")
        self.assertEqual(ref, "cluster-host:pid=42:cmd=PowerQuery:ask=1f")
