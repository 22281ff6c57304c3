"""
Fakes for the cluster's unit tests.

- :class:`FakeRegion`: a region event loop over ``iosim``: it challenges the
  cluster on connect, asks Identify, and answers the region commands the
  cluster sends from a shared :class:`RegionState` (first cluster ACCEPTED,
  later ones PENDING, as the real region).  :class:`FakeOldRegion` lacks
  RegisterV2 (a MAAS 1.8 region).
- :class:`FakeNetwork`: the ``connect_to`` of ``RegionConnections``: joins a
  cluster protocol to a new FakeRegion in memory, or refuses.
- :class:`FakeRegionClient`: what the power service and monitor call.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.test import iosim

from rpc.auth import authenticate_peer
from rpc.commands.common import Identify
from rpc.commands.region import (
    ClusterStatus,
    GetClusterStatus,
    ListNodePowerParameters,
    MarkNodeFailed,
    Register,
    RegisterEventType,
    RegisterV2,
    SendEvent,
    UpdateNodePowerState,
)
from rpc.errors import (
    AuthenticationFailed,
    ClusterPending,
    ClusterRejected,
    NoConnectionsAvailable,
    NoSuchCluster,
)
from rpc.protocol import RPCProtocol

SECRET = b"0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210"
UUID = "cluster-0001"


@attrs.define
class RegionState:
    """What a fake region knows, shared by all its connections."""

    statuses: dict[str, ClusterStatus] = attrs.field(factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    #: Pages answered to ListNodePowerParameters, in order (then empty lists).
    pages: deque[list[dict[str, Any]]] = attrs.field(factory=deque)
    #: command name -> errors to raise, in order.
    errors: dict[str, deque[BaseException]] = attrs.field(factory=lambda: defaultdict(deque))
    #: Clusters whose digest was wrong (the region dropped them).
    refused: int = 0

    def register(self, uuid: str) -> ClusterStatus:
        if uuid not in self.statuses:
            self.statuses[uuid] = ClusterStatus.PENDING if self.statuses else \
                ClusterStatus.ACCEPTED
        return self.statuses[uuid]

    def named(self, command: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == command]


class FakeOldRegion(RPCProtocol):
    """A region event loop without RegisterV2 (as MAAS 1.8)."""

    def __init__(self, state: RegionState, *, secret: bytes = SECRET,
                 name: str = "region:pid=1") -> None:
        super().__init__(ident=name, secret=secret, name=name)
        self.world = state
        self.identified: str | None = None
        self.lost = False

    def connectionMade(self) -> None:
        super().connectionMade()
        Deferred.fromCoroutine(self._handshake())

    async def _handshake(self) -> None:
        try:
            await authenticate_peer(self, self._secret)  # type: ignore[arg-type]
        except AuthenticationFailed:
            self.world.refused += 1
            self.transport.loseConnection()
            return
        answer = await self.callRemote(Identify)
        self.identified = answer["ident"]

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = True
        super().connectionLost(reason)

    def _record(self, command: str, **kwargs: Any) -> None:
        self.world.calls.append((command, kwargs))
        errors = self.world.errors.get(command)
        if errors:
            raise errors.popleft()

    @Register.responder
    def register(self, uuid: str, networks: Any = None, url: Any = None) -> dict[str, Any]:
        self._record("Register", uuid=uuid, networks=networks, url=url)
        status = self.world.register(uuid)
        if status is ClusterStatus.REJECTED:
            raise ClusterRejected(f"Cluster {uuid} has been rejected.")
        if status is ClusterStatus.PENDING:
            raise ClusterPending(f"Cluster {uuid} waits for an administrator.")
        return {}

    @GetClusterStatus.responder
    def get_cluster_status(self, uuid: str) -> dict[str, Any]:
        self._record("GetClusterStatus", uuid=uuid)
        if uuid not in self.world.statuses:
            raise NoSuchCluster.from_uuid(uuid)
        return {"status": self.world.statuses[uuid]}

    @ListNodePowerParameters.responder
    def list_node_power_parameters(self, uuid: str) -> dict[str, Any]:
        self._record("ListNodePowerParameters", uuid=uuid)
        return {"nodes": self.world.pages.popleft() if self.world.pages else []}

    @UpdateNodePowerState.responder
    def update_node_power_state(self, system_id: str, power_state: str) -> dict[str, Any]:
        self._record("UpdateNodePowerState", system_id=system_id, power_state=power_state)
        return {}

    @SendEvent.responder
    def send_event(self, system_id: str, type_name: str, description: str) -> dict[str, Any]:
        self._record("SendEvent", system_id=system_id, type_name=type_name,
                     description=description)
        return {}

    @MarkNodeFailed.responder
    def mark_node_failed(self, system_id: str, error_description: str) -> dict[str, Any]:
        self._record("MarkNodeFailed", system_id=system_id, error_description=error_description)
        return {}

    @RegisterEventType.responder
    def register_event_type(self, name: str, description: str, level: int) -> dict[str, Any]:
        self._record("RegisterEventType", name=name, description=description, level=level)
        return {}


class FakeRegion(FakeOldRegion):
    """A region event loop of ours: RegisterV2 too."""

    @RegisterV2.responder
    def register_v2(self, uuid: str, networks: Any = None, url: Any = None) -> dict[str, Any]:
        self._record("RegisterV2", uuid=uuid, networks=networks, url=url)
        status = self.world.register(uuid)
        if status is ClusterStatus.REJECTED:
            raise ClusterRejected(f"Cluster {uuid} has been rejected by an administrator.")
        return {"status": status}


class FakeNetwork:
    """
    ``connect_to`` for RegionConnections: each (host, port) that is ``up``
    makes a new region protocol, joined to the cluster's in memory.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.up: dict[tuple[str, int], Callable[[], FakeOldRegion]] = {}
        self.pumps: list[iosim.IOPump] = []
        self.regions: list[FakeOldRegion] = []
        self.attempts: list[tuple[float, str, int]] = []

    def serve(self, host: str, port: int, make_region: Callable[[], FakeOldRegion]) -> None:
        self.up[(host, port)] = make_region

    def down(self, host: str, port: int) -> None:
        """Stop accepting at host:port and close its connections."""
        self.up.pop((host, port), None)
        for pump in self.pumps:
            if getattr(pump, "address", None) == (host, port):
                pump.serverIO.loseConnection()
        self.flush()

    def connect_to(self, host: str, port: int, factory: IProtocolFactory) -> Deferred[Any]:
        self.attempts.append((self.clock.seconds(), host, port))
        make_region = self.up.get((host, port))
        if make_region is None:
            return fail(ConnectionRefusedError(f"{host}:{port}"))
        client = factory.buildProtocol(None)
        server = make_region()
        self.regions.append(server)
        pump = iosim.connect(server, iosim.makeFakeServer(server), client,
                             iosim.makeFakeClient(client), greet=False, clock=self.clock)
        pump.address = (host, port)  # type: ignore[attr-defined]
        self.pumps.append(pump)
        return succeed(client)

    def flush(self) -> None:
        """Move every byte until nothing moves."""
        for _ in range(100):
            moved = False
            for pump in list(self.pumps):
                moved = pump.flush() or moved
            if not moved:
                return
        raise AssertionError("the fake network never settled")


class FakeRegionClient:
    """
    What the power service, monitor and probes call: records calls, answers
    ListNodePowerParameters from ``pages``, raises scripted errors.  A
    subclass answers other commands by overriding :meth:`answer`.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.pages: deque[list[dict[str, Any]]] = deque()
        self.errors: dict[str, deque[BaseException]] = defaultdict(deque)
        self.accepted = True
        #: command name -> a Deferred to wait on before answering (then removed).
        self.holds: dict[str, Deferred[None]] = {}

    def has_accepted_connection(self) -> bool:
        return self.accepted

    async def call(self, command: type[amp.Command], *,
                   timeout: float | None = None,  # noqa: ASYNC109
                   **kwargs: Any) -> dict[str, Any]:
        name = command.__name__
        if not self.accepted:
            raise NoConnectionsAvailable("no accepted connection (fake)")
        self.calls.append((name, kwargs))
        hold = self.holds.pop(name, None)
        if hold is not None:
            await hold
        if self.errors[name]:
            raise self.errors[name].popleft()
        return self.answer(command, kwargs)

    def answer(self, command: type[amp.Command], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The response to a call that got through (no scripted error)."""
        if command is ListNodePowerParameters:
            return {"nodes": self.pages.popleft() if self.pages else []}
        return {}

    def named(self, command: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == command]

    def events(self, system_id: str | None = None) -> list[str]:
        return [kwargs["type_name"] for kwargs in self.named("SendEvent")
                if system_id in (None, kwargs["system_id"])]

    def states(self, system_id: str | None = None) -> list[str]:
        return [kwargs["power_state"] for kwargs in self.named("UpdateNodePowerState")
                if system_id in (None, kwargs["system_id"])]


@attrs.define
class Runtime:
    """A ClusterContext for protocol tests."""

    uuid: str = UUID
    power: Any = None
    probes: Any = None
