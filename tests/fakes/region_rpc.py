"""
A fake cluster for tests of the region's RPC side, and helpers to connect it.

:class:`FakeCluster` is an ``RPCProtocol`` that answers Identify with its
uuid and the power commands from a script (``answers``), recording every
call.  :func:`region_for_tests` builds the ``RegionRPC`` a
``RegionServerProtocol`` needs; :func:`connect_cluster` joins the two in
memory (``iosim``) and runs the handshake both ways.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.test import iosim

from region.rpc.clusterops import DEFAULT_POWER_POLICY, PowerMonitorPolicy
from region.rpc.connections import ClusterConnections
from region.rpc.power import ClusterPowerControl
from region.rpc.service import RegionRPC, RegionServerProtocol
from rpc.auth import authenticate_peer
from rpc.commands.cluster import PowerOff, PowerOn, PowerQuery
from rpc.protocol import RPCProtocol
from rpc.testing import connect_pair

SECRET = b"0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210"
EVENTLOOP = "region-host:pid=1"


class FakeCluster(RPCProtocol):
    """
    A cluster that answers power commands as told.

    ``answers[system_id]`` is a state for PowerQuery, an exception to raise,
    or ``"silent"`` (never answer).  ``calls`` records ``(command, kwargs)``.
    """

    def __init__(self, uuid: str = "cluster-1", secret: bytes = SECRET) -> None:
        super().__init__(ident=uuid, secret=secret, name=f"fake-cluster-{uuid}")
        self.uuid = uuid
        self.answers: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: Fires when the connection is lost.
        self.lost: Deferred[None] = Deferred()

    def connectionLost(self, reason: Any = None) -> None:
        super().connectionLost(reason)
        if not self.lost.called:
            self.lost.callback(None)

    def _answer(self, command: str, system_id: str, **kwargs: Any) -> Any:
        self.calls.append((command, {"system_id": system_id, **kwargs}))
        answer = self.answers.get(system_id, "off")
        if answer == "silent":
            return Deferred()
        if isinstance(answer, BaseException):
            raise answer
        return {"state": answer} if command == "PowerQuery" else {}

    @PowerOn.responder
    def power_on(self, system_id: str, **kwargs: Any) -> Any:
        return self._answer("PowerOn", system_id, **kwargs)

    @PowerOff.responder
    def power_off(self, system_id: str, **kwargs: Any) -> Any:
        return self._answer("PowerOff", system_id, **kwargs)

    @PowerQuery.responder
    def power_query(self, system_id: str, **kwargs: Any) -> Any:
        return self._answer("PowerQuery", system_id, **kwargs)


def region_for_tests(db: Any, clock: Any, *, maas_url: str = "http://region.example:5240/MAAS/",
                     policy: PowerMonitorPolicy = DEFAULT_POWER_POLICY) -> RegionRPC:
    """A RegionRPC on db (a Database, or a stand-in for tests that never reach it)."""
    clusters = ClusterConnections(clock)
    return RegionRPC(db=db, clock=clock, clusters=clusters,
                     power=ClusterPowerControl(db, clusters), maas_url=maas_url,
                     eventloop=EVENTLOOP, power_policy=policy, secret=SECRET)


def connect_cluster(region: RegionRPC, cluster: FakeCluster, clock: Clock | None = None,
                    ) -> tuple[RegionServerProtocol, iosim.IOPump]:
    """Connect cluster to a new RegionServerProtocol in memory; run both challenges."""
    server_box: list[RegionServerProtocol] = []

    def make_server() -> RegionServerProtocol:
        server_box.append(RegionServerProtocol(region))
        return server_box[0]

    _, server, pump = connect_pair(make_server, lambda: cluster, clock=clock or Clock())
    challenge = Deferred.fromCoroutine(authenticate_peer(cluster, region.secret or b""))
    challenge.addErrback(lambda _: None)  # a test with mismatched secrets looks at the region
    pump.flush()
    return server, pump
