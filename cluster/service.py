"""
The cluster daemon as a tree of services.

:func:`make_service` builds the tree without starting anything (``main``
starts it; tests build the same tree with fakes).  Children, in start order:

- ``power``: :class:`~cluster.power.service.PowerService`, the power
  changes and queries the region asks for;
- ``rpc``: :class:`~cluster.rpc.connections.RegionConnections`, discovery
  and one reconnecting link per region event loop;
- ``power-monitor``: :class:`~cluster.power.monitor.PowerMonitor`;
- ``probes``: :class:`~cluster.probes.ProbeService`, the chassis and
  hypervisor probes (``probe_and_enlist_hardware``).

``MultiService`` stops them in reverse order: the probes first (cancelled),
the monitor, then the connections (closing them), then the power work still
in flight (abandoned quietly: nothing is reported on the way out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from twisted.application.service import MultiService
from twisted.internet.interfaces import IReactorTime

from cluster.config import ClusterConfig
from cluster.power.bmc import BMCGate
from cluster.power.drivers import DriverSource, RegistryDrivers
from cluster.power.monitor import PowerMonitor
from cluster.power.service import PowerService
from cluster.probes import DriverListers, ProbeService, VirshBootOrder
from cluster.rpc.connections import ConnectTo, RegionConnections, tcp_connector
from cluster.rpc.discovery import EventLoops, fetch_eventloops, make_agent
from cluster.rpc.networks import discover_networks


@attrs.define
class ClusterRuntime:
    """What a connection's responders reach (``cluster.rpc.responders.ClusterContext``)."""

    uuid: str
    name: str
    power: PowerService = attrs.field(default=None)
    probes: ProbeService | None = None


class ClusterService(MultiService):
    """The root service; ``runtime`` and the children are reachable for ``main`` and tests."""

    def __init__(self, runtime: ClusterRuntime) -> None:
        super().__init__()
        self.runtime = runtime


def make_service(
    config: ClusterConfig,
    reactor: Any,
    *,
    clock: IReactorTime | None = None,
    drivers: DriverSource | None = None,
    fetch: Callable[[], Awaitable[EventLoops | None]] | None = None,
    connect_to: ConnectTo | None = None,
    networks: Callable[[], list[dict[str, str]]] | None = None,
) -> ClusterService:
    """
    The cluster's services, not started.

    :param reactor: for TCP, HTTP and child processes (and the clock by default).
    :param clock: replaces the reactor's clock (tests).
    :param drivers: replaces the power drivers of ``power.registry`` (tests).
    :param fetch: replaces the HTTP discovery (tests).
    :param connect_to: replaces TCP connections to the region (tests).
    :param networks: replaces reading this host's interfaces (tests).
    """
    clock = clock if clock is not None else reactor
    runtime = ClusterRuntime(uuid=config.uuid, name=config.name)
    if fetch is None:
        agent = make_agent(reactor)

        def fetch() -> Awaitable[EventLoops | None]:
            return fetch_eventloops(agent, config.discovery_url, clock)

    connections = RegionConnections(
        clock, runtime, config.secret, region_url=config.region_url, fetch=fetch,
        connect_to=connect_to if connect_to is not None else tcp_connector(reactor),
        networks=networks if networks is not None else discover_networks,
        status_interval=config.region_status_interval)
    power = PowerService(clock, connections,
                         drivers if drivers is not None else RegistryDrivers(reactor),
                         gate=BMCGate())
    runtime.power = power
    monitor = PowerMonitor(clock, connections, config.uuid, power,
                           interval=config.power_monitor_interval,
                           concurrency=config.power_monitor_concurrency,
                           min_concurrency=config.power_monitor_min_concurrency,
                           query_timeout=config.power_monitor_query_timeout,
                           report_delay=config.power_report_interval,
                           summary_interval=config.power_monitor_summary_interval)

    probes = ProbeService(clock, connections, config.uuid,
                          DriverListers(reactor, clock=clock),
                          boot_order=VirshBootOrder(reactor, clock=clock))
    runtime.probes = probes

    root = ClusterService(runtime)
    for name, child in (("power", power), ("rpc", connections), ("power-monitor", monitor),
                        ("probes", probes)):
        child.setName(name)
        child.setServiceParent(root)
    return root
