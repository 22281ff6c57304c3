"""Calling a cluster from the API: the deadline, and the HTTP answer for each failure."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from region.api.errors import APIError, BadRequest, ServiceUnavailable
from region.api.handlers.cluster_calls import (
    ClusterNotSupported,
    call,
    call_each,
    connected_uuids,
    typed_not_implemented,
)
from region.api.handlers.nodegroups import merge_power_types
from region.db.nodegroups import Nodegroup
from region.rpc.connections import ClusterConnections
from rpc.commands.cluster import AddVirsh, DescribePowerTypes, ImportBootImages, ListBootImagesV2
from rpc.commands.region import ClusterStatus
from rpc.errors import NoIPFoundForMACAddress, PayloadTooLarge


def nodegroup(uuid: str = "cluster-1", status: int = 1) -> Nodegroup:
    return Nodegroup(id=1, uuid=uuid, name="maas", cluster_name=f"Cluster {uuid}",
                     status=status, token_id=None, maas_url="", reported_networks=[],
                     foreign_dhcp={})


class FakeConnection:
    """Answers callRemote with whatever the test queued (a Deferred, or silence)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answer: Any = None

    def callRemote(self, command: type[amp.Command], **kwargs: Any) -> Deferred[Any]:
        self.calls.append((command.__name__, kwargs))
        if self.answer is None:
            return Deferred()  # never answers
        return self.answer  # type: ignore[no-any-return]


class CallTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clusters = ClusterConnections(self.clock)
        self.connection = FakeConnection()
        self.ctx: Any = SimpleNamespace(services=SimpleNamespace(
            extras={"clusters": self.clusters}))

    def connect(self, uuid: str = "cluster-1",
                status: ClusterStatus = ClusterStatus.ACCEPTED) -> None:
        self.clusters.add(uuid, self.connection, status)  # type: ignore[arg-type]

    def call_cluster(self, command: type[amp.Command] = ListBootImagesV2,
                     ng: Nodegroup | None = None, **kwargs: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(call(self.ctx, ng or nodegroup(), command,
                                           action="do it", **kwargs))

    def failure_of(self, deferred: Deferred[Any], kind: type[APIError]) -> APIError:
        error = self.failureResultOf(deferred, kind).value
        assert isinstance(error, APIError)
        return error

    def test_answer_is_returned(self) -> None:
        """A cluster's answer comes back as the command's response."""
        self.connect()
        self.connection.answer = succeed({"images": []})
        self.assertEqual(self.successResultOf(self.call_cluster()), {"images": []})
        self.assertEqual(self.connection.calls, [("ListBootImagesV2", {})])

    def test_not_connected_is_503_at_once(self) -> None:
        """No connection: 503 with Retry-After and 1.8's words, without waiting."""
        error = self.failure_of(self.call_cluster(), ServiceUnavailable)
        self.assertEqual(error.headers, {"Retry-After": "10"})
        self.assertIn("Unable to connect to cluster cluster-1; no connections available.",
                      error.message)
        self.assertEqual(self.connection.calls, [])

    def test_no_rpc_service_is_not_connected(self) -> None:
        """A region without the RPC service (extras missing) answers the same 503."""
        self.ctx.services.extras = {}
        self.failure_of(self.call_cluster(), ServiceUnavailable)
        self.assertEqual(connected_uuids(self.ctx), [])

    def test_pending_and_rejected_clusters_say_so(self) -> None:
        """A connected cluster that is not accepted gets no work; the message says why."""
        self.connect(status=ClusterStatus.PENDING)
        pending = self.failure_of(self.call_cluster(ng=nodegroup(status=0)), ServiceUnavailable)
        self.assertIn("has not been accepted yet", pending.message)
        rejected = self.failure_of(self.call_cluster(ng=nodegroup(status=2)), ServiceUnavailable)
        self.assertIn("rejected", rejected.message)
        self.assertEqual(self.connection.calls, [])

    def test_silence_times_out_with_503(self) -> None:
        """A cluster that never answers: 503 + Retry-After once the deadline passes."""
        self.connect()
        deferred = self.call_cluster(timeout=5)
        self.assertNoResult(deferred)
        self.clock.advance(4.9)
        self.assertNoResult(deferred)
        self.clock.advance(0.2)
        error = self.failure_of(deferred, ServiceUnavailable)
        self.assertEqual(error.headers, {"Retry-After": "10"})
        self.assertIn("did not answer in time", error.message)

    def test_default_deadline_is_bounded(self) -> None:
        """Without a timeout, an API call waits 30 s at most, not the command's 120 s."""
        self.connect()
        deferred = self.call_cluster(ImportBootImages, sources=[])
        self.clock.advance(30.1)
        self.failure_of(deferred, ServiceUnavailable)

    def test_lost_connection_is_503(self) -> None:
        self.connect()
        self.connection.answer = fail(ConnectionLost())
        error = self.failure_of(self.call_cluster(), ServiceUnavailable)
        self.assertIn("was lost", error.message)
        self.assertEqual(error.headers, {"Retry-After": "10"})

    def test_unhandled_command_is_501(self) -> None:
        """A cluster without a responder for the command: 501, no Retry-After."""
        self.connect()
        self.connection.answer = fail(amp.UnhandledCommand(b"UNHANDLED", "no responder"))
        deferred = self.call_cluster(ImportBootImages, sources=[])
        error = self.failure_of(deferred, ClusterNotSupported)
        self.assertEqual(error.status, 501)
        self.assertEqual(dict(error.headers), {})
        self.assertIn("does not support this yet", error.message)
        self.assertIn("ImportBootImages", error.message)

    def test_not_implemented_passes_the_clusters_message_on(self) -> None:
        """NotImplementedError (declared or not) is a 501 carrying the cluster's words."""
        self.connect()
        self.connection.answer = fail(NotImplementedError("image import comes later"))
        error = self.failure_of(self.call_cluster(), ClusterNotSupported)
        self.assertIn("image import comes later", error.message)
        self.connection.answer = fail(amp.UnknownRemoteError(
            "NotImplementedError while answering AddVirsh [host:pid=1:cmd=AddVirsh:ask=3]"))
        error = self.failure_of(self.call_cluster(AddVirsh, user="u", poweraddr="qemu:///system"),
                                ClusterNotSupported)
        self.assertIn("ask=3", error.message)

    def test_cluster_failure_is_503_without_retry(self) -> None:
        """The cluster tried and failed: 503 with its message, no Retry-After."""
        self.connect()
        self.connection.answer = fail(NoIPFoundForMACAddress("no IP for 00:11:22:33:44:55"))
        error = self.failure_of(self.call_cluster(), ServiceUnavailable)
        self.assertEqual(dict(error.headers), {})
        self.assertIn("no IP for 00:11:22:33:44:55", error.message)
        self.connection.answer = fail(amp.UnknownRemoteError("KeyError while answering X [r]"))
        self.assertIn("KeyError", self.failure_of(self.call_cluster(), ServiceUnavailable).message)

    def test_oversized_argument_is_400(self) -> None:
        self.connect()
        self.connection.answer = fail(PayloadTooLarge("password", 70000, 65535))
        self.failure_of(self.call_cluster(), BadRequest)

    def test_call_each_collects_answers_and_errors(self) -> None:
        """Several clusters at once: each one's answer or error, in order."""
        self.connect("a")
        self.connection.answer = succeed({"power_types": []})
        deferred = Deferred.fromCoroutine(call_each(
            self.ctx, [nodegroup("a"), nodegroup("b")], DescribePowerTypes, action="x"))
        first, second = self.successResultOf(deferred)
        self.assertEqual(first, {"power_types": []})
        assert isinstance(second, ServiceUnavailable)
        self.assertEqual(connected_uuids(self.ctx), ["a"])


class MergePowerTypesTests(SynchronousTestCase):
    def test_merged_by_name_first_wins_sorted_by_description(self) -> None:
        """Clusters' power types merge by name (first answer wins), sorted by description."""
        answers: list[Any] = [
            {"power_types": [{"name": "virsh", "description": "Virsh", "fields": [1]},
                             {"name": "amt", "description": "Intel AMT", "fields": []}]},
            ServiceUnavailable("away"),
            {"power_types": [{"name": "virsh", "description": "Virsh", "fields": [2]},
                             {"name": "apc", "description": "APC", "fields": []},
                             "junk", {"description": "no name"}]},
        ]
        merged = merge_power_types(answers)
        assert merged is not None
        self.assertEqual([entry["name"] for entry in merged], ["apc", "amt", "virsh"])
        self.assertEqual(merged[2]["fields"], [1])

    def test_no_useful_answer_is_none(self) -> None:
        """Nothing answered (or nothing sensible): None, so the caller falls back."""
        self.assertIsNone(merge_power_types([]))
        self.assertIsNone(merge_power_types([ServiceUnavailable("x"), {"power_types": "?"}]))
        self.assertEqual(merge_power_types([{"power_types": []}]), [])



class TypedViewTests(SynchronousTestCase):
    def test_view_declares_not_implemented_and_keeps_the_wire_format(self) -> None:
        """The caller's view of a command adds the error only; name and schema are the same."""
        view = typed_not_implemented(ImportBootImages)
        self.assertIs(view.reverseErrors[b"NotImplementedError"], NotImplementedError)
        self.assertEqual(view.commandName, ImportBootImages.commandName)
        self.assertEqual(view.arguments, ImportBootImages.arguments)
        self.assertEqual(view.response, ImportBootImages.response)
        self.assertIs(typed_not_implemented(ImportBootImages), view)
        self.assertIs(typed_not_implemented(view), view)
