"""rpc.testing.call_responder behaves like the wire, errors included."""

from __future__ import annotations

from typing import Any

from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from rpc.commands.region import CreateNode, GetProxies, MarkNodeFailed, SendEvent
from rpc.errors import NodeStateViolation, NoSuchNode, NotAuthenticated, PayloadTooLarge
from rpc.protocol import RPCProtocol
from rpc.testing import call_responder

NODE = {"system_id": "node-1", "error_description": "it broke"}


class Region(RPCProtocol):
    def __init__(self) -> None:
        super().__init__(ident="region", secret=b"k", name="region:pid=1")

    @MarkNodeFailed.responder
    def mark_node_failed(self, system_id: str, error_description: str) -> dict[str, Any]:
        if system_id == "missing":
            raise NoSuchNode.from_system_id(system_id)
        if system_id == "deployed":
            raise NodeStateViolation("Node is deployed")
        if system_id == "bug":
            raise RuntimeError("bug")
        return {}

    @CreateNode.responder
    def create_node(self, **kwargs: Any) -> dict[str, Any]:
        return {"system_id": "node-2"}


class TestCallResponder(SynchronousTestCase):
    def setUp(self) -> None:
        self.region = Region()
        self.region.authentication_finished(True)

    def call(self, command: type[amp.Command], **arguments: Any) -> Any:
        return call_responder(self.region, command, arguments)

    def test_success(self) -> None:
        """A responder's answer comes back parsed."""
        self.assertEqual(self.successResultOf(self.call(MarkNodeFailed, **NODE)), {})

    def test_declared_errors_come_back_as_their_types(self) -> None:
        """Declared errors come back as their own exception types."""
        failure = self.failureResultOf(
            self.call(MarkNodeFailed, **{**NODE, "system_id": "missing"}), NoSuchNode
        )
        self.assertEqual(str(failure.value), "Node with system_id=missing could not be found.")
        self.failureResultOf(
            self.call(MarkNodeFailed, **{**NODE, "system_id": "deployed"}), NodeStateViolation
        )

    def test_undeclared_errors_escape_as_they_are(self) -> None:
        """Without a connection there is no reference to make: the test sees the bug itself."""
        d = self.call(MarkNodeFailed, **{**NODE, "system_id": "bug"})
        self.failureResultOf(d, RuntimeError)

    def test_the_gate_applies(self) -> None:
        """An RPCProtocol whose gate is shut refuses, as on a connection."""
        self.failureResultOf(call_responder(Region(), MarkNodeFailed, NODE), NotAuthenticated)

    def test_bad_calls_fail(self) -> None:
        """Forgotten arguments, missing responders and oversized values all fail the Deferred."""
        self.failureResultOf(self.call(MarkNodeFailed, system_id="x"), amp.InvalidSignature)
        self.failureResultOf(self.call(GetProxies), amp.UnhandledCommand)
        self.failureResultOf(self.call(SendEvent, system_id="x", type_name="t",
                                       description="d" * 70_000), PayloadTooLarge)
        created = self.call(CreateNode, cluster_uuid="c", architecture="a", power_type="",
                            power_parameters="{}", mac_addresses=[])
        self.assertEqual(self.successResultOf(created), {"system_id": "node-2"})
