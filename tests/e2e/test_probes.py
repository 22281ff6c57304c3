"""
``nodegroups/<uuid>/ op=probe_and_enlist_hardware`` (and the deprecated
``probe_and_enlist_mscm``/``probe_and_enlist_ucsm``) end to end: a real region
(with a database of its own) and a real ``maas-cluster`` process that lists
the machines behind a device and enlists them with CreateNode (and
CommissionNode with ``accept_all``).

The devices speak their real protocols: libvirt's test driver behind a
session libvirtd (the virsh integration fixture), and the fakes of
``tests/fakes`` — UCS Manager XML API, OCS chassis manager REST, Moonshot
chassis manager SSH CLI — served on this test's reactor, each checking the
credentials and recording what it was sent.  The tests that use those fakes
are asynchronous (the reactor must run for the fakes to answer); HTTP calls
to the region are short and blocking, which the fakes tolerate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from tests.e2e.cluster_fixtures import ClusterProcess, region_fixtures, wait_until
from tests.fakes.mscm import FakeMSCM, Node
from tests.fakes.ocs import FakeBlade, FakeOCS
from tests.fakes.ucsm import FakeServer, FakeUCSM
from tests.fakes.webbase import listen
from tests.integration.power import test_virsh as virsh_peer
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

#: The virsh integration fixture: three domains (node1..3) defined on a libvirt
#: test driver held by a session libvirtd, shut off.
libvirt_host = virsh_peer.libvirt

VIRSH_PASSWORD = "virsh-Pr0be-pw"
UCS_USER, UCS_PASSWORD = "ucs-probe", "ucs<Pr0be>&pw"
OCS_USER, OCS_PASSWORD = "cm-probe", "ocs-Pr0be-pw"
MSCM_USER, MSCM_PASSWORD = "Administrator", "mscm 'Pr0be' pw"
WRONG_PASSWORD = "wr0ng-Pr0be-pw"
PASSWORDS = (VIRSH_PASSWORD, UCS_PASSWORD, OCS_PASSWORD, MSCM_PASSWORD, WRONG_PASSWORD)

COMMISSIONING, NEW = 1, 0


@pytest.fixture(scope="module")
def reactor() -> Any:
    """The reactor pytest-twisted runs, on which the fake devices listen."""
    from twisted.internet import reactor as running  # noqa: TID251 (tests get it here)

    return running


root, cluster_region, secret_file, admin = region_fixtures("probes", "maasprobese2e")


@pytest.fixture(scope="module")
def cluster(cluster_region: RegionProcess, secret_file: Path,
            root: Path) -> Iterator[ClusterProcess]:
    """One cluster, the region's first: it takes over the master nodegroup, ACCEPTED."""
    process = ClusterProcess.start(cluster_region, secret_file, root, "prober")
    try:
        process.wait_for("is ACCEPTED")
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ucsm(reactor: Any) -> Iterator[FakeUCSM]:
    device = FakeUCSM(UCS_USER, UCS_PASSWORD, [
        FakeServer("sys/chassis-1/blade-1", "1b4e28ba-2fa1-11d2-883f-0016d3cc0001",
                   "org-root/ls-p1", ["00:25:B5:00:A0:01", "00:25:b5:00:a0:02"]),
        FakeServer("sys/chassis-1/blade-2", "1b4e28ba-2fa1-11d2-883f-0016d3cc0002",
                   "org-root/ls-p2", ["00:25:b5:00:a0:03"]),
        FakeServer("sys/chassis-1/blade-3", "1b4e28ba-2fa1-11d2-883f-0016d3cc0003", "", []),
    ])
    port, address = listen(reactor, device)
    device.url = f"http://{address}/"  # type: ignore[attr-defined]
    yield device
    port.stopListening()


@pytest.fixture(scope="module")
def ocs(reactor: Any) -> Iterator[FakeOCS]:
    device = FakeOCS(OCS_USER, OCS_PASSWORD, {
        "1": FakeBlade(["F4:52:14:D6:A0:01", "f4:52:14:d6:a0:02"]),
        "2": FakeBlade(["f4:52:14:d6:a0:03"]),
        "3": FakeBlade([]),  # an empty slot
    })
    port, address = listen(reactor, device)
    device.host, device.port = address.split(":")  # type: ignore[attr-defined]
    yield device
    port.stopListening()


@pytest.fixture(scope="module")
def mscm(reactor: Any) -> Iterator[FakeMSCM]:
    device = FakeMSCM(MSCM_USER, MSCM_PASSWORD, [
        Node("c1n1", "ProLiant m300 Server Cartridge", ["a0:1d:48:b5:a0:01"]),
        Node("c2n1", "ProLiant m400 Server Cartridge", ["a0:1d:48:b5:a0:02",
                                                        "a0:1d:48:b5:a0:03"]),
    ])
    port = reactor.listenTCP(0, device.factory(), interface="127.0.0.1")
    device.address = f"127.0.0.1:{port.getHost().port}"  # type: ignore[attr-defined]
    yield device
    port.stopListening()


# -- helpers -----------------------------------------------------------------------------


def nodes_with_macs(admin: MAASClient, macs: set[str]) -> dict[str, dict[str, Any]]:
    """The nodes (by MAC) that have one of macs."""
    response = admin.get("nodes/", "list")
    assert response.status_code == 200, response.text
    found = {}
    for node in response.json():
        for entry in node["macaddress_set"]:
            if entry["mac_address"] in macs:
                found[entry["mac_address"]] = node
    return found


def power_parameters(admin: MAASClient, system_id: str) -> dict[str, Any]:
    response = admin.get(f"nodes/{system_id}/", "power_parameters")
    assert response.status_code == 200, response.text
    parameters: dict[str, Any] = response.json()
    return parameters


def probe(admin: MAASClient, cluster: ClusterProcess, op: str = "probe_and_enlist_hardware",
          **params: str) -> None:
    response = admin.post(f"nodegroups/{cluster.uuid}/", op, **params)
    assert response.status_code == 200, response.text
    assert "is probing" in response.text


async def eventually(reactor: Any, what: str, check: Callable[[], Any],
                     timeout: float = 60.0) -> Any:  # noqa: ASYNC109 - a polling deadline
    """Poll check while the reactor runs (the fakes answer meanwhile); its first truthy
    result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await deferLater(reactor, 0.2, lambda: None)


def done_line(target: str) -> str:
    return f"Probe of {target} done: "


# -- virsh -------------------------------------------------------------------------------


def test_virsh_domains_become_nodes_and_commission(
        admin: MAASClient, cluster: ClusterProcess, libvirt_host: Any) -> None:
    """Three libvirt domains become three nodes with their MACs, architectures and virsh
    power parameters; with accept_all they are COMMISSIONING, set to boot from the network
    first, and powered on through the cluster."""
    macs = {mac for _, mac in virsh_peer.NODES.values()}
    probe(admin, cluster, model="virsh", power_address=libvirt_host.uri,
          power_pass=VIRSH_PASSWORD, accept_all="true")
    wait_until("three nodes", lambda: len(nodes_with_macs(admin, macs)) == 3, timeout=60)
    cluster.wait_for(done_line(f"libvirt host {libvirt_host.uri}"), timeout=60)
    found = nodes_with_macs(admin, macs)
    for name, (arch, mac) in virsh_peer.NODES.items():
        node = found[mac]
        assert [m["mac_address"] for m in node["macaddress_set"]] == [mac]
        assert node["architecture"] == ("arm64/generic" if arch == "aarch64"
                                        else "amd64/generic")
        assert node["power_type"] == "virsh"
        assert node["hostname"] == f"{name}.maas"
        assert power_parameters(admin, node["system_id"]) == {
            "power_address": libvirt_host.uri, "power_id": name, "power_pass": VIRSH_PASSWORD}
    wait_until("commissioning", lambda: all(
        node["status"] == COMMISSIONING for node in nodes_with_macs(admin, macs).values()))
    for name in virsh_peer.NODES:
        xml = libvirt_host.run("dumpxml", "--inactive", name)
        assert xml.index("<boot dev='network'/>") < xml.index("<boot dev='hd'/>")
        wait_until(f"{name} to be powered on",
                   lambda name=name: libvirt_host.state(name) == "running")
    log = cluster.log_text()
    assert "found 3, enlisted 3, already known 0, failed 0, commissioning 3" in log


def test_probing_again_enlists_nothing_twice(
        admin: MAASClient, cluster: ClusterProcess, libvirt_host: Any) -> None:
    """A second probe of the same host finds the same three domains and creates no node:
    each is skipped as already known."""
    macs = {mac for _, mac in virsh_peer.NODES.values()}
    before = {mac: node["system_id"] for mac, node in nodes_with_macs(admin, macs).items()}
    assert len(before) == 3
    target = done_line(f"libvirt host {libvirt_host.uri}")
    runs = cluster.log_text().count(target)
    probe(admin, cluster, model="virsh", power_address=libvirt_host.uri, accept_all="true")
    cluster.wait_for(target, count=runs + 1, timeout=60)
    assert "found 3, enlisted 0, already known 3, failed 0, commissioning 0" in \
        cluster.log_text()
    after = {mac: node["system_id"] for mac, node in nodes_with_macs(admin, macs).items()}
    assert after == before
    listing = admin.get("nodes/", "list").json()
    assert sum(1 for node in listing for m in node["macaddress_set"]
               if m["mac_address"] in macs) == 3


def test_prefix_filter_limits_the_probe(
        admin: MAASClient, cluster: ClusterProcess, libvirt_host: Any) -> None:
    """prefix_filter: only the domains whose names start with it are looked at."""
    target = done_line(f"libvirt host {libvirt_host.uri}")
    runs = cluster.log_text().count(target)
    probe(admin, cluster, model="virsh", power_address=libvirt_host.uri, prefix_filter="node3")
    cluster.wait_for(target, count=runs + 1, timeout=60)
    assert "found 1, enlisted 0, already known 1" in cluster.log_text()


# -- chassis managers against the fakes --------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_ucsm_servers_through_the_deprecated_op(
        reactor: Any, admin: MAASClient, cluster: ClusterProcess, ucsm: FakeUCSM) -> None:
    """probe_and_enlist_ucsm: the two UCS servers with MACs become ucsm nodes (UUID, URL,
    credentials) and commission; UCS Manager saw a login with the credentials, the
    listing, a logout, and then the power-on (admin-up) of commissioning."""
    macs = {"00:25:b5:00:a0:01", "00:25:b5:00:a0:02", "00:25:b5:00:a0:03"}
    url = ucsm.url  # type: ignore[attr-defined]
    probe(admin, cluster, "probe_and_enlist_ucsm", url=url, username=UCS_USER,
          password=UCS_PASSWORD, accept_all="true")
    found = await eventually(reactor, "two ucsm nodes", lambda: len(
        {n["system_id"] for n in nodes_with_macs(admin, macs).values()}) == 2
        and nodes_with_macs(admin, macs))
    first, second = found["00:25:b5:00:a0:01"], found["00:25:b5:00:a0:03"]
    assert found["00:25:b5:00:a0:02"]["system_id"] == first["system_id"]
    assert (first["power_type"], first["architecture"]) == ("ucsm", "amd64/generic")
    assert power_parameters(admin, second["system_id"]) == {
        "uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cc0002", "power_address": url,
        "power_user": UCS_USER, "power_pass": UCS_PASSWORD}
    await eventually(reactor, "the servers to be powered on by commissioning",
                     lambda: all(server.state == "up" for server in ucsm.servers[:2]))
    assert ucsm.servers[2].state == "down"  # no MAC: not enlisted, not touched
    names = ucsm.names()
    assert names[:2] == ["aaaLogin", "configResolveClass"]
    login = ucsm.calls[0][1]
    assert (login["inName"], login["inPassword"]) == (UCS_USER, UCS_PASSWORD)
    assert "adaptorHostEthIf" in {attrs.get("classId") for _, attrs, _ in ucsm.calls}
    assert "aaaLogout" in names
    assert [attrs.get("dn") for name, attrs, _ in ucsm.calls if name == "configConfMo"] \
        and all(b'state="admin-up"' in body for name, _, body in ucsm.calls
                if name == "configConfMo")
    statuses = {node["status"] for node in nodes_with_macs(admin, macs).values()}
    assert statuses == {COMMISSIONING}


@pytest_twisted.ensureDeferred
async def test_ocs_blades(reactor: Any, admin: MAASClient, cluster: ClusterProcess,
                          ocs: FakeOCS) -> None:
    """model=msftocs: the blades with NICs become msftocs nodes (address, port, blade id)
    and commission: each is set to boot PXE once and switched on."""
    macs = {"f4:52:14:d6:a0:01", "f4:52:14:d6:a0:02", "f4:52:14:d6:a0:03"}
    host, port = ocs.host, ocs.port  # type: ignore[attr-defined]
    probe(admin, cluster, model="msftocs", ip=host, port=port, username=OCS_USER,
          password=OCS_PASSWORD, accept_all="true")
    found = await eventually(reactor, "two msftocs nodes", lambda: len(
        {n["system_id"] for n in nodes_with_macs(admin, macs).values()}) == 2
        and nodes_with_macs(admin, macs))
    blade2 = found["f4:52:14:d6:a0:03"]
    assert blade2["power_type"] == "msftocs"
    assert power_parameters(admin, blade2["system_id"]) == {
        "power_address": host, "power_port": port, "power_user": OCS_USER,
        "power_pass": OCS_PASSWORD, "blade_id": "2"}
    await eventually(reactor, "the blades to be switched on",
                     lambda: ocs.blades["1"].on and ocs.blades["2"].on)
    assert ocs.blades["1"].boots == ["ForcePxe"]
    assert not ocs.blades["3"].on
    commands = ocs.commands()
    assert commands[0] == "GetChassisInfo"
    assert [args["bladeid"] for command, args in ocs.requests
            if command == "GetBladeInfo"] == ["1", "2", "3"]


@pytest_twisted.ensureDeferred
async def test_mscm_cartridges_through_the_deprecated_op(
        reactor: Any, admin: MAASClient, cluster: ClusterProcess, mscm: FakeMSCM) -> None:
    """probe_and_enlist_mscm without accept_all: the cartridge nodes are mscm nodes in NEW,
    with node_id and the cartridge's architecture; the chassis manager ran the listing
    commands over SSH with the credentials, and nothing was powered on."""
    macs = {"a0:1d:48:b5:a0:01", "a0:1d:48:b5:a0:02", "a0:1d:48:b5:a0:03"}
    address = mscm.address  # type: ignore[attr-defined]
    probe(admin, cluster, "probe_and_enlist_mscm", host=address, username=MSCM_USER,
          password=MSCM_PASSWORD)
    found = await eventually(reactor, "two mscm nodes", lambda: len(
        {n["system_id"] for n in nodes_with_macs(admin, macs).values()}) == 2
        and nodes_with_macs(admin, macs))
    m400 = found["a0:1d:48:b5:a0:02"]
    assert (m400["power_type"], m400["architecture"], m400["status"]) == \
        ("mscm", "arm64/xgene-uboot", NEW)
    assert found["a0:1d:48:b5:a0:01"]["architecture"] == "amd64/generic"
    assert power_parameters(admin, m400["system_id"]) == {
        "power_address": address, "power_user": MSCM_USER, "power_pass": MSCM_PASSWORD,
        "node_id": "c2n1"}
    assert mscm.logins >= 1
    assert mscm.commands[:2] == ["show node list", "show node macaddr all"]
    assert {"show node info c1n1", "show node info c2n1"} <= set(mscm.commands)
    assert not any(command.startswith("set ") for command in mscm.commands)


@pytest_twisted.ensureDeferred
async def test_refused_credentials_are_logged_not_enlisted(
        reactor: Any, admin: MAASClient, cluster: ClusterProcess, ucsm: FakeUCSM) -> None:
    """A wrong password: the API call still answers at once (the probe runs in the
    background); the cluster logs that UCS Manager refused the login, without the
    password, and nothing new is enlisted."""
    url = ucsm.url  # type: ignore[attr-defined]
    before = len(admin.get("nodes/", "list").json())
    probe(admin, cluster, model="ucsm", url=url, username=UCS_USER, password=WRONG_PASSWORD)
    await eventually(reactor, "the probe to fail", lambda: "could not list its machines" in
                     cluster.log_text())
    assert len(admin.get("nodes/", "list").json()) == before


def test_bad_requests_are_refused_by_the_cluster(admin: MAASClient,
                                                 cluster: ClusterProcess) -> None:
    """A libvirt URI the cluster will not use (a command= parameter) is refused at once,
    with the cluster's reason."""
    response = admin.post(f"nodegroups/{cluster.uuid}/", "probe_and_enlist_hardware",
                          model="virsh", power_address="qemu+ssh://h/system?command=/bin/sh")
    assert response.status_code in (400, 503), response.text
    assert "may not set the libvirt URI parameter(s) command" in response.text


def test_no_probe_password_in_any_log(cluster_region: RegionProcess,
                                      cluster: ClusterProcess) -> None:
    """None of the probes' passwords appears in the cluster's log or the region's."""
    logs = cluster.log_text() + cluster_region.log_text()
    assert "Probing" in logs
    for password in PASSWORDS:
        assert password not in logs
