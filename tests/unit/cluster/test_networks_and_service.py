"""This host's networks, the service tree, and the maas-cluster command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from twisted.application.internet import ClientService
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from cluster import main as cluster_main
from cluster.config import ClusterConfig
from cluster.power.monitor import PowerMonitor
from cluster.power.service import PowerService
from cluster.rpc.connections import RegionConnections
from cluster.rpc.networks import discover_networks, read_interfaces, reportable
from cluster.service import make_service
from rpc.auth import write_secret
from tests.unit.cluster.helpers import SECRET


def test_reportable_networks_leave_out_loopback_and_link_local() -> None:
    """Register gets (interface, ip, netmask) for ordinary IPv4 addresses only."""
    found = reportable([("lo", "127.0.0.1", "255.0.0.0"), ("eth0", "10.0.0.2", "255.255.255.0"),
                        ("eth1", "169.254.1.1", "255.255.0.0"), ("odd", "nonsense", "x"),
                        ("br0", "192.168.1.1", "255.255.255.0")])
    assert found == [{"interface": "eth0", "ip": "10.0.0.2", "subnet_mask": "255.255.255.0"},
                     {"interface": "br0", "ip": "192.168.1.1", "subnet_mask": "255.255.255.0"}]


def test_unreadable_interfaces_mean_no_networks() -> None:
    """An OSError while reading interfaces registers without networks."""

    def broken() -> list[tuple[str, str, str]]:
        raise OSError("no ioctl here")

    assert discover_networks(broken) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ioctls are Linux's")
def test_reading_interfaces_finds_loopback() -> None:
    """The ioctls read this host's interfaces, loopback with its /8 netmask among them."""
    assert ("lo", "127.0.0.1", "255.0.0.0") in read_interfaces()


def make_config(tmp_path: Path) -> ClusterConfig:
    write_secret(tmp_path / "secret", SECRET)
    return ClusterConfig.load({}, None, {"secret_file": str(tmp_path / "secret"),
                                         "uuid": "svc-test", "state_dir": str(tmp_path)})


def test_make_service_names_its_children(tmp_path: Path) -> None:
    """The tree: power, rpc, power-monitor and probes, wired to each other, not started."""
    clock = Clock()
    service = make_service(make_config(tmp_path), clock, clock=clock,
                           fetch=lambda: succeed(None), networks=list)
    assert [child.name for child in service] == ["power", "rpc", "power-monitor", "probes"]
    power = service.getServiceNamed("power")
    rpc = service.getServiceNamed("rpc")
    monitor = service.getServiceNamed("power-monitor")
    assert isinstance(power, PowerService) and isinstance(rpc, RegionConnections)
    assert isinstance(monitor, PowerMonitor)
    assert monitor.region is rpc and power.reports.region is rpc and monitor.power is power
    assert service.runtime.power is power and service.runtime.uuid == "svc-test"
    probes = service.getServiceNamed("probes")
    assert service.runtime.probes is probes and probes.region is rpc
    assert not service.running and clock.getDelayedCalls() == []
    service.startService()
    clock.advance(0)
    assert rpc.links == {}  # nothing advertised
    stopped = service.stopService()
    assert stopped.called
    assert clock.getDelayedCalls() == []


def test_bad_input_exits_non_zero_with_every_problem(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad URL and a missing secret file: exit status 1, both said on stderr."""
    monkeypatch.delenv("MAAS_URL", raising=False)
    code = cluster_main.main(["serve", "--region-url", "not a url", "--secret-file",
                              str(tmp_path / "missing"), "--state-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("maas-cluster: bad configuration:")
    assert "region_url" in err and "no shared secret file" in err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    """maas-cluster without a command is a usage error."""
    with pytest.raises(SystemExit) as raised:
        cluster_main.main([])
    assert raised.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_quiet_namespaces_exist() -> None:
    """The namespaces main quiets are Twisted's real ones (else the filter is a no-op)."""
    from twisted.protocols import amp

    assert ClientService(None, None)._log.namespace in cluster_main.QUIET_NAMESPACES
    assert amp._log.namespace in cluster_main.QUIET_NAMESPACES
