"""
A real ``maas-region serve`` and real ``maas-cluster serve`` processes on
loopback: registration (the first cluster takes over the master placeholder,
the next waits), a wrong secret refused, the region restarted under a running
cluster, SIGTERM, and no secret in any log.  The region has a database of its
own, so the first cluster here is the first it ever sees.  Nodegroups are
checked in the region's database (the nodegroups API is not served yet).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.e2e.cluster_fixtures import ClusterProcess, region_fixtures, wait_until
from tests.integration.power.conftest import (
    BMC_PASSWORD,
    CHASSIS_SCRIPT,
    LAN_CONF,
    SIM_EMU,
    SimulatedBMC,
    free_udp_port,
    udp_port_taken,
)
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


#: A region with a database of its own (its placeholder cluster is untouched).
root, cluster_region, secret_file, admin = region_fixtures("clusters", "maasclustere2e")

@pytest.fixture(scope="module")
def clusters() -> Iterator[list[ClusterProcess]]:
    """Every cluster a test starts; stopped at the end of the module."""
    started: list[ClusterProcess] = []
    yield started
    for cluster in started:
        cluster.stop()


@pytest.fixture(scope="module")
def first(cluster_region: RegionProcess, secret_file: Path, root: Path,
          clusters: list[ClusterProcess]) -> ClusterProcess:
    config = root / "first.toml"
    config.write_text("power_monitor_interval = 1\n")  # rounds every second, not 15
    cluster = ClusterProcess.start(cluster_region, secret_file, root, "first", config=config)
    clusters.append(cluster)
    cluster.wait_for("is ACCEPTED")
    return cluster


@pytest.fixture(scope="module")
def bmc(root: Path) -> Iterator[SimulatedBMC]:
    """OpenIPMI's ipmi_sim as a BMC on a loopback UDP port (test-peers.md §5b)."""
    program = shutil.which("ipmi_sim") or shutil.which("ipmi_sim", path="/usr/sbin:/sbin")
    if program is None or shutil.which("ipmipower", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("ipmi_sim or ipmipower is not installed (tools/system-deps.sh test)")
    workdir = root / "bmc"
    (workdir / "state").mkdir(parents=True)
    port = free_udp_port()
    script = workdir / "chassis.sh"
    script.write_text(CHASSIS_SCRIPT)
    script.chmod(0o755)
    (workdir / "lan.conf").write_text(LAN_CONF.format(
        port=port, workdir=workdir, user="maas", password=BMC_PASSWORD))
    (workdir / "sim.emu").write_text(SIM_EMU)
    simulator = SimulatedBMC(workdir, port)
    simulator.reset(power=0)
    with open(workdir / "ipmi_sim.log", "wb") as log:
        process = subprocess.Popen(
            [program, "-n", "-c", str(workdir / "lan.conf"), "-f", str(workdir / "sim.emu"),
             "-s", str(workdir / "state")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not udp_port_taken(port):
            assert process.poll() is None and time.monotonic() < deadline, \
                (workdir / "ipmi_sim.log").read_text()
            time.sleep(0.05)  # noqa: TID251 - a test waiting on another process
        yield simulator
    finally:
        process.terminate()
        process.wait(10)


def nodegroups(region: RegionProcess) -> dict[str, int]:
    connection = psycopg2.connect(region.database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT uuid, status FROM nodegroups")
            return dict(cursor.fetchall())
    finally:
        connection.close()


def enlist(client: MAASClient, bmc: SimulatedBMC, mac: str, nodegroup: str) -> str:
    response = client.post("nodes/", "new", architecture="amd64/generic", mac_addresses=mac,
                           nodegroup=nodegroup, power_type="ipmi",
                           power_parameters=json.dumps(bmc.params()))
    assert response.status_code == 200, response.text
    system_id: str = response.json()["system_id"]
    return system_id


def power_state(admin: MAASClient, system_id: str) -> str:
    response = admin.get(f"nodes/{system_id}/")
    assert response.status_code == 200, response.text
    state: str = response.json()["power_state"]
    return state


def event_types(admin: MAASClient, system_id: str) -> list[str]:
    """The node's event types, as the API shows them (their descriptions, as 1.8)."""
    response = admin.get("events/", "query", id=system_id, level="DEBUG")
    assert response.status_code == 200, response.text
    return sorted({event["type"] for event in response.json()["events"]})


def test_first_cluster_takes_over_the_master_placeholder(
        cluster_region: RegionProcess, first: ClusterProcess) -> None:
    """The first cluster generates and keeps its uuid, connects, authenticates, registers
    and is ACCEPTED: it took over the 'master' nodegroup."""
    uuid = first.uuid
    assert len(uuid) == 36
    statuses = nodegroups(cluster_region)
    assert statuses.get(uuid) == 1
    assert "master" not in statuses
    log = first.log_text()
    for line in ("Discovered region event loops", "Connected to region",
                 "Authenticated region", f"cluster {uuid} is ACCEPTED"):
        assert line in log
    assert f"Cluster {uuid} connected" in cluster_region.log_text()


def test_second_cluster_is_pending(cluster_region: RegionProcess, first: ClusterProcess,
                                   secret_file: Path, root: Path,
                                   clusters: list[ClusterProcess]) -> None:
    """A later cluster (its own uuid and state directory) is registered PENDING and keeps
    its connection."""
    second = ClusterProcess.start(cluster_region, secret_file, root, "second",
                                  "--uuid", "e2e-second")
    clusters.append(second)
    second.wait_for("cluster e2e-second is PENDING")
    assert nodegroups(cluster_region)["e2e-second"] == 0
    assert "Cluster e2e-second registered: PENDING" in cluster_region.log_text()
    assert "Lost the connection" not in second.log_text()


def test_a_rejected_cluster_stays_rejected(cluster_region: RegionProcess, first: ClusterProcess,
                                          secret_file: Path, root: Path, admin: MAASClient,
                                          clusters: list[ClusterProcess]) -> None:
    """An administrator rejects a pending cluster (nodegroups op=reject): at its next
    status question the cluster learns it, disconnects and retries only slowly."""
    config = root / "third.toml"
    config.write_text("region_status_interval = 2\n")  # ask every 2 s, not 30
    third = ClusterProcess.start(cluster_region, secret_file, root, "third",
                                 "--uuid", "e2e-third", config=config)
    clusters.append(third)
    third.wait_for("cluster e2e-third is PENDING")
    response = admin.post("nodegroups/", "reject", uuid="e2e-third")
    assert response.status_code == 200, response.text
    third.wait_for("has been rejected by an administrator")
    third.wait_for("retrying slowly, in 120 s")
    assert nodegroups(cluster_region)["e2e-third"] == 2


def test_power_through_the_cluster_follows_the_bmc(
        cluster_region: RegionProcess, first: ClusterProcess, bmc: SimulatedBMC,
        admin: MAASClient) -> None:
    """Through the REST API and the real cluster, against an IPMI simulator: the monitor
    reports a new node's state; an admin's enlistment commissions (powers on) the node
    and the state follows the BMC; aborting powers it off; events tell the story; the BMC
    password is in no log."""
    watched = enlist(MAASClient(cluster_region.url), bmc, "52:54:00:e2:e0:01",
                     first.uuid)  # held: NEW
    wait_until("the monitor to query the new node",
               lambda: power_state(admin, watched) == "off")
    assert bmc.power == 0

    # An admin's enlistment commissions the node at once: PowerOn.
    started = enlist(admin, bmc, "52:54:00:e2:e0:02", first.uuid)
    wait_until("the node to be powered on", lambda: power_state(admin, started) == "on")
    assert bmc.power == 1
    wait_until("the power-on events", lambda: {"Powering node on", "Node powered on"} <= set(
        event_types(admin, started)))

    response = admin.post(f"nodes/{started}/", "abort_operation")
    assert response.status_code == 200, response.text
    wait_until("the node to be powered off", lambda: power_state(admin, started) == "off")
    assert bmc.power == 0
    wait_until("the power-off events", lambda: {"Powering node off", "Node powered off"} <= set(
        event_types(admin, started)))
    first.wait_for(f"Powered {started}")
    assert BMC_PASSWORD not in first.log_text()
    assert BMC_PASSWORD not in cluster_region.log_text()


def test_start_stop_and_query_through_the_api(
        cluster_region: RegionProcess, first: ClusterProcess, bmc: SimulatedBMC,
        admin: MAASClient) -> None:
    """An acquired node is started (DEPLOYING, powered on), queried and stopped through
    the REST API; the answers follow the IPMI simulator."""
    system_id = enlist(admin, bmc, "52:54:00:e2:e0:03", first.uuid)
    wait_until("commissioning's power-on", lambda: power_state(admin, system_id) == "on")
    assert admin.post(f"nodes/{system_id}/", "mark_broken").status_code == 200
    assert admin.post(f"nodes/{system_id}/", "mark_fixed").json()["substatus"] == 4
    assert admin.post(f"nodes/{system_id}/", "stop").status_code == 200
    wait_until("the stop to be reported", lambda: power_state(admin, system_id) == "off")
    assert bmc.power == 0
    acquired = admin.post("nodes/", "acquire", name=admin.get(
        f"nodes/{system_id}/").json()["hostname"])
    assert acquired.status_code == 200, acquired.text

    started = admin.post(f"nodes/{system_id}/", "start", distro_series="trusty",
                         user_data="I2Nsb3VkLWNvbmZpZw==")
    assert started.status_code == 200, started.text
    assert started.json()["substatus"] == 9  # DEPLOYING
    assert started.json()["distro_series"] == "trusty"
    wait_until("the power-on to be reported", lambda: power_state(admin, system_id) == "on")
    assert bmc.power == 1
    assert admin.get(f"nodes/{system_id}/", "query_power_state").json() == {"state": "on"}

    stopped = admin.post(f"nodes/{system_id}/", "stop", stop_mode="soft")
    assert stopped.status_code == 200, stopped.text
    wait_until("the BMC to be off", lambda: bmc.power == 0)
    assert admin.get(f"nodes/{system_id}/", "query_power_state").json() == {"state": "off"}
    assert power_state(admin, system_id) == "off"


def test_power_needs_an_allocated_node_and_a_cluster(
        cluster_region: RegionProcess, first: ClusterProcess, admin: MAASClient) -> None:
    """start on an unowned node is a 409; a node whose cluster is not connected gets a
    503 with Retry-After, never a hang."""
    anonymous = MAASClient(cluster_region.url)
    response = anonymous.post("nodes/", "new", architecture="amd64", mac_addresses=
                              "52:54:00:e2:e0:04", autodetect_nodegroup="1", power_type="ipmi",
                              power_parameters=json.dumps({"power_address": "127.0.0.1:9"}))
    system_id = response.json()["system_id"]
    refused = admin.post(f"nodes/{system_id}/", "start")
    assert refused.status_code == 409
    assert refused.text == "Can't start node: it hasn't been allocated."
    away = admin.post("nodes/", "new", architecture="amd64", mac_addresses="52:54:00:e2:e0:05",
                      nodegroup="e2e-second", power_type="ipmi",
                      power_parameters=json.dumps({"power_address": "127.0.0.1:9"}))
    if away.status_code == 200:  # the pending cluster: accept would need its connection
        query = admin.get(f"nodes/{away.json()['system_id']}/", "query_power_state")
        assert query.status_code == 503
        assert "Retry-After" in query.headers


def test_a_wrong_secret_is_refused(cluster_region: RegionProcess, first: ClusterProcess,
                                   root: Path, clusters: list[ClusterProcess]) -> None:
    """A cluster with another secret is dropped, never registered, and says why."""
    wrong = root / "wrong-secret"
    wrong.write_text("00112233445566778899aabbccddeeff\n")
    wrong.chmod(0o600)
    intruder = ClusterProcess.start(cluster_region, wrong, root, "intruder",
                                    "--uuid", "e2e-intruder")
    clusters.append(intruder)
    intruder.wait_for("shared secret")
    intruder.wait_for("retrying in")
    assert "e2e-intruder" not in nodegroups(cluster_region)
    assert "Dropped the RPC connection" in cluster_region.log_text()
    assert "00112233445566778899aabbccddeeff" not in intruder.log_text()
    assert intruder.stop() == 0


def test_region_restart_the_cluster_reconnects_by_itself(
        cluster_region: RegionProcess, first: ClusterProcess, root: Path, admin: MAASClient,
        clusters: list[ClusterProcess]) -> None:
    """The region is killed and started again (a new process, a new RPC port): the
    clusters notice, back off, rediscover and register again on their own; the pending
    one, accepted meanwhile (nodegroups op=accept), comes back ACCEPTED."""
    second = next(cluster for cluster in clusters if "second" in str(cluster.log_path))
    response = admin.post("nodegroups/", "accept", uuid="e2e-second")
    assert response.status_code == 200, response.text
    accepted_before = first.log_text().count("is ACCEPTED")
    http_port = int(cluster_region.url.rsplit(":", 1)[1])
    cluster_region.process.kill()  # a crash: no goodbye, its advertisement stays behind
    cluster_region.process.wait(10)
    first.wait_for("Lost the connection to region")
    first.wait_for("retrying in")
    restarted = RegionProcess.start(cluster_region.database_url, root / "region.log",
                                    port=http_port)
    cluster_region.process = restarted.process  # the module fixture stops this one
    first.wait_for("is ACCEPTED", count=accepted_before + 1, timeout=60)
    second.wait_for("cluster e2e-second is ACCEPTED", timeout=60)
    assert nodegroups(cluster_region)[first.uuid] == 1


def test_sigterm_stops_a_cluster_cleanly(first: ClusterProcess) -> None:
    """SIGTERM: the cluster closes its connections and exits 0."""
    assert first.stop() == 0
    assert "Closed the connection to region" in first.log_text()


def test_no_secret_in_any_log(cluster_region: RegionProcess, secret_file: Path,
                              clusters: list[ClusterProcess]) -> None:
    """The shared secret appears in no cluster's log, nor in the region's."""
    secret = secret_file.read_text().strip()
    assert len(secret) == 32
    for cluster in clusters:
        assert secret not in cluster.log_text()
    assert secret not in cluster_region.log_text()
