"""
Clusters over HTTP against a real region with no cluster connected:
nodegroups/, nodegroups/<uuid>/, its interfaces and boot-images.

The tests make their own clusters, straight in the database (a row in
``nodegroups``, and for worker-only operations a token of
``maas-nodegroup-worker``), so that they do not depend on the ``master``
placeholder, which the first cluster to register takes over.  Every call
that needs the cluster itself must answer 503 with ``Retry-After: 10`` and a
message a person understands, at once.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def sql(region: RegionProcess, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(region.database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def make_cluster(region: RegionProcess, status: int = 1) -> str:
    """A new cluster row (as registration would leave it); returns its uuid."""
    uuid = "e2e-" + secrets.token_hex(6)
    sql(region, "INSERT INTO nodegroups (uuid, name, cluster_name, status) "
                "VALUES (%s, 'maas', %s, %s)", (uuid, f"Cluster {uuid}", status))
    return uuid


def worker_key(region: RegionProcess, uuid: str) -> str:
    """Give cluster uuid worker credentials (as registration does); return the API key."""
    consumer, key, secret = (secrets.token_hex(9), secrets.token_hex(9), secrets.token_hex(16))
    [(token_id,)] = sql(region, """
        INSERT INTO tokens (user_id, consumer_key, token_key, token_secret)
        SELECT id, %s, %s, %s FROM users WHERE username = 'maas-nodegroup-worker'
        RETURNING id""", (consumer, key, secret))
    sql(region, "UPDATE nodegroups SET token_id = %s WHERE uuid = %s", (token_id, uuid))
    return f"{consumer}:{key}:{secret}"


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


def enlist(admin: MAASClient, uuid: str) -> str:
    response = admin.post("nodes/", "new", architecture="amd64", nodegroup=uuid,
                          mac_addresses=[random_mac()])
    assert response.status_code == 200, response.text
    return str(response.json()["system_id"])


def assert_unavailable(response: Any, *words: str) -> None:
    """A 503 that tells the client to retry in 10 s, with a readable reason."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "10"
    assert response.headers["Content-Type"].startswith("text/plain")
    for word in words:
        assert word in response.text


@pytest.fixture
def cluster(region: RegionProcess) -> Iterator[str]:
    yield make_cluster(region)


@pytest.fixture
def user(region: RegionProcess, admin: MAASClient) -> MAASClient:
    return region.new_user(admin)[1]


# -- nodegroups/ ---------------------------------------------------------------


def test_list_is_anonymous_with_18_fields(region: RegionProcess, cluster: str) -> None:
    """Anyone may list the clusters: uuid, status, name, cluster_name and resource_uri."""
    response = region.anonymous().get("nodegroups/", "list")
    assert response.status_code == 200
    found = {entry["uuid"]: entry for entry in response.json()}
    assert found[cluster] == {"uuid": cluster, "status": 1, "name": "maas",
                              "cluster_name": f"Cluster {cluster}",
                              "resource_uri": f"/MAAS/api/1.0/nodegroups/{cluster}/"}
    assert region.anonymous().get("nodegroups/", "describe_power_types").status_code == 401


def test_accept_and_reject(region: RegionProcess, admin: MAASClient, user: MAASClient) -> None:
    """Admins accept (→ 1) and reject (→ 2) one or several clusters, with 1.8's answers."""
    first, second = make_cluster(region, status=0), make_cluster(region, status=0)
    accepted = admin.post("nodegroups/", "accept", uuid=[first, second])
    assert accepted.status_code == 200
    assert accepted.text == "Nodegroup(s) accepted."
    assert admin.get(f"nodegroups/{first}/").json()["status"] == 1
    assert admin.get(f"nodegroups/{second}/").json()["status"] == 1
    rejected = admin.post("nodegroups/", "reject", uuid=second, form="urlencoded")
    assert (rejected.status_code, rejected.text) == (200, "Nodegroup(s) rejected.")
    assert admin.get(f"nodegroups/{second}/").json()["status"] == 2
    # A rejected cluster may be accepted again.
    assert admin.post("nodegroups/", "accept", uuid=second).status_code == 200
    assert admin.get(f"nodegroups/{second}/").json()["status"] == 1
    assert user.post("nodegroups/", "accept", uuid=first).status_code == 403
    assert region.anonymous().post("nodegroups/", "reject", uuid=first).status_code == 401


def test_accept_unknown_changes_nothing(admin: MAASClient, region: RegionProcess) -> None:
    """An unknown uuid is a 404 naming it, and the known ones are left as they were."""
    pending = make_cluster(region, status=0)
    response = admin.post("nodegroups/", "accept", uuid=[pending, "no-such-cluster"])
    assert response.status_code == 404
    assert "no-such-cluster" in response.text
    assert admin.get(f"nodegroups/{pending}/").json()["status"] == 0
    missing = admin.post("nodegroups/", "accept")
    assert missing.status_code == 400
    assert missing.json() == {"uuid": ["This field is required."]}


def test_describe_power_types_without_clusters(user: MAASClient) -> None:
    """With no cluster connected, the region's own power types, sorted by description."""
    response = user.get("nodegroups/", "describe_power_types")
    assert response.status_code == 200
    types = response.json()
    descriptions = [entry["description"] for entry in types]
    assert descriptions == sorted(descriptions)
    by_name = {entry["name"]: entry for entry in types}
    assert by_name["ipmi"]["description"] == "IPMI"
    assert {"name", "description", "fields"} <= set(by_name["virsh"])
    assert len(by_name) == 13


def test_import_boot_images_needs_a_connected_cluster(admin: MAASClient,
                                                      user: MAASClient) -> None:
    """Importing everywhere with no cluster connected: 503, Retry-After, and why."""
    response = admin.post("nodegroups/", "import_boot_images")
    assert_unavailable(response, "No accepted cluster controller is connected")
    assert user.post("nodegroups/", "import_boot_images").status_code == 403


# -- nodegroups/<uuid>/ ----------------------------------------------------------


def test_read_and_not_found(user: MAASClient, cluster: str) -> None:
    """Any user reads a cluster; an unknown uuid is a 404."""
    assert user.get(f"nodegroups/{cluster}/").json()["uuid"] == cluster
    assert user.get("nodegroups/no-such-cluster/").status_code == 404
    assert user.get("nodegroups/no-such-cluster/", "list_nodes").status_code == 404


def test_update(admin: MAASClient, user: MAASClient, region: RegionProcess) -> None:
    """PUT changes name, cluster_name and status; absent fields are kept."""
    uuid = make_cluster(region, status=0)
    title = "Rack " + secrets.token_hex(4)
    response = admin.put(f"nodegroups/{uuid}/", name="rack1.example.com", cluster_name=title,
                         status="1")
    assert response.status_code == 200, response.text
    assert response.json() == {"uuid": uuid, "status": 1, "name": "rack1.example.com",
                               "cluster_name": title,
                               "resource_uri": f"/MAAS/api/1.0/nodegroups/{uuid}/"}
    assert admin.put(f"nodegroups/{uuid}/", status="2").json()["name"] == "rack1.example.com"
    assert user.put(f"nodegroups/{uuid}/", name="other").status_code == 403
    assert admin.put("nodegroups/no-such-cluster/", name="x").status_code == 404


@pytest.mark.parametrize(("field", "value"), [
    ("name", "not a domain"), ("name", "-bad.example.com"), ("name", "a" * 64),
    ("name", ""), ("status", "5"), ("status", "accepted"), ("cluster_name", ""),
    ("cluster_name", "x" * 101),
])
def test_update_is_validated(admin: MAASClient, cluster: str, field: str, value: str) -> None:
    """Bad values are a 400 naming the field, and change nothing."""
    response = admin.put(f"nodegroups/{cluster}/", **{field: value})
    assert response.status_code == 400, response.text
    assert list(response.json()) == [field]
    assert admin.get(f"nodegroups/{cluster}/").json()["name"] == "maas"


def test_cluster_names_are_unique(admin: MAASClient, region: RegionProcess) -> None:
    """Two clusters cannot share a cluster_name."""
    first, second = make_cluster(region), make_cluster(region)
    response = admin.put(f"nodegroups/{second}/", cluster_name=f"Cluster {first}")
    assert response.status_code == 400
    assert list(response.json()) == ["cluster_name"]


def test_list_nodes_is_for_admins_and_the_worker(region: RegionProcess, admin: MAASClient,
                                                 user: MAASClient, cluster: str) -> None:
    """list_nodes gives the system_ids of the cluster's nodes to admins and its worker."""
    mine = [enlist(admin, cluster), enlist(admin, cluster)]
    response = admin.get(f"nodegroups/{cluster}/", "list_nodes")
    assert response.status_code == 200
    assert response.json() == mine
    worker = MAASClient(region.url, worker_key(region, cluster))
    assert worker.get(f"nodegroups/{cluster}/", "list_nodes").json() == mine
    assert user.get(f"nodegroups/{cluster}/", "list_nodes").status_code == 403
    other = make_cluster(region)
    assert worker.get(f"nodegroups/{other}/", "list_nodes").status_code == 403


def test_details_is_bson_for_the_clusters_nodes(region: RegionProcess, admin: MAASClient,
                                                user: MAASClient, cluster: str) -> None:
    """details answers BSON for the cluster's own nodes only; others are ignored."""
    from region.domain import bson

    probed, bare = enlist(admin, cluster), enlist(admin, cluster)
    elsewhere = enlist(admin, make_cluster(region))
    sql(region, """INSERT INTO node_results (node_id, name, data)
                   SELECT id, '00-maas-01-lshw.out', %s FROM nodes WHERE system_id = %s""",
        (b"<list>\x00binary</list>", probed))
    response = admin.post(f"nodegroups/{cluster}/", "details",
                          system_ids=[probed, bare, elsewhere, "node-unknown"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/bson"
    assert bson.decode(response.content) == {
        probed: {"lshw": b"<list>\x00binary</list>", "lldp": None},
        bare: {"lshw": None, "lldp": None},
    }
    assert bson.decode(admin.post(f"nodegroups/{cluster}/", "details").content) == {}
    assert user.post(f"nodegroups/{cluster}/", "details", system_ids=probed).status_code == 403


def test_dns_zone_cannot_be_renamed_under_nodes_in_use(region: RegionProcess,
                                                       admin: MAASClient, cluster: str) -> None:
    """A cluster managing DNS keeps its zone name while some of its nodes are deployed."""
    created = admin.post(f"nodegroups/{cluster}/interfaces/", "new", name="eth0",
                         interface="eth0", ip="10.71.0.1", subnet_mask="255.255.255.0",
                         ip_range_low="10.71.0.100", ip_range_high="10.71.0.200",
                         management="2")
    assert created.status_code == 200, created.text
    assert admin.put(f"nodegroups/{cluster}/", name="zone-a").status_code == 200
    sql(region, "UPDATE nodes SET status = 6 WHERE system_id = %s", (enlist(admin, cluster),))
    response = admin.put(f"nodegroups/{cluster}/", name="zone-b")
    assert response.status_code == 400
    assert response.json() == {"name": ["Can't rename DNS zone to zone-b, nodes are in use."]}


def test_report_download_progress(region: RegionProcess, admin: MAASClient,
                                  cluster: str) -> None:
    """Only the cluster's worker reports downloads: a start, then progress within the size."""
    path = f"nodegroups/{cluster}/"
    assert admin.post(path, "report_download_progress", filename="f").status_code == 403
    worker = MAASClient(region.url, worker_key(region, cluster))
    started = worker.post(path, "report_download_progress", filename="boot-kernel", size="100")
    assert started.status_code == 200, started.text
    assert started.json() == {"filename": "boot-kernel", "size": 100, "bytes_downloaded": None,
                              "error": ""}
    going = worker.post(path, "report_download_progress", filename="boot-kernel",
                        bytes_downloaded="40")
    assert going.json() == {"filename": "boot-kernel", "size": 100, "bytes_downloaded": 40,
                            "error": ""}
    too_many = worker.post(path, "report_download_progress", filename="boot-kernel",
                           bytes_downloaded="101")
    assert too_many.status_code == 400 and list(too_many.json()) == ["bytes_downloaded"]
    resized = worker.post(path, "report_download_progress", filename="boot-kernel", size="7",
                          bytes_downloaded="5")
    assert resized.status_code == 400 and list(resized.json()) == ["size"]
    failed = worker.post(path, "report_download_progress", filename="boot-kernel",
                         bytes_downloaded="60", error="connection reset")
    assert failed.json()["error"] == "connection reset"
    unstarted = worker.post(path, "report_download_progress", filename="never-started",
                            bytes_downloaded="1")
    assert unstarted.status_code == 400 and list(unstarted.json()) == ["bytes_downloaded"]
    assert worker.post(path, "report_download_progress").json() == {
        "filename": ["This field is required."]}
    negative = worker.post(path, "report_download_progress", filename="x", size="-1")
    assert negative.status_code == 400 and list(negative.json()) == ["size"]
    other = make_cluster(region)
    assert worker.post(f"nodegroups/{other}/", "report_download_progress",
                       filename="f").status_code == 403


# -- Calls that need the cluster: 503 when it is not connected ---------------------


def test_import_boot_images_on_a_cluster_not_connected(admin: MAASClient, cluster: str,
                                                       region: RegionProcess) -> None:
    """503 + Retry-After with 1.8's words; a pending cluster is said to be pending."""
    assert_unavailable(admin.post(f"nodegroups/{cluster}/", "import_boot_images"),
                       f"Unable to connect to cluster {cluster}; no connections available.")
    pending = make_cluster(region, status=0)
    assert_unavailable(admin.post(f"nodegroups/{pending}/", "import_boot_images"),
                       "has not been accepted yet")
    rejected = make_cluster(region, status=2)
    assert_unavailable(admin.post(f"nodegroups/{rejected}/", "import_boot_images"),
                       "has been rejected")
    assert admin.post("nodegroups/nope/", "import_boot_images").status_code == 404


def test_boot_images_of_a_cluster_not_connected(user: MAASClient, cluster: str) -> None:
    """Listing a cluster's boot images asks the cluster: 503 at once when it is away."""
    assert_unavailable(user.get(f"nodegroups/{cluster}/boot-images/"),
                       f"Unable to connect to cluster {cluster}")
    assert user.get("nodegroups/nope/boot-images/").status_code == 404


@pytest.mark.parametrize(("op", "params"), [
    ("probe_and_enlist_hardware", {"model": "virsh", "power_address": "qemu+ssh://u@h/system",
                                   "power_pass": "PASSWORD"}),
    ("probe_and_enlist_hardware", {"model": "powerkvm", "power_address": "qemu:///system"}),
    ("probe_and_enlist_hardware", {"model": "vmware", "host": "vc.example.com", "username": "u",
                                   "password": "PASSWORD", "port": "443", "protocol": "https"}),
    ("probe_and_enlist_hardware", {"model": "esxi", "address": "esx1", "username": "root",
                                   "password": "PASSWORD"}),
    ("probe_and_enlist_hardware", {"model": "seamicro15k", "mac": "00:11:22:33:44:55",
                                   "username": "admin", "password": "PASSWORD",
                                   "power_control": "restapi2", "accept_all": "true"}),
    ("probe_and_enlist_hardware", {"model": "mscm", "host": "10.0.0.9", "username": "a",
                                   "password": "PASSWORD"}),
    ("probe_and_enlist_hardware", {"model": "msftocs", "ip": "10.0.0.8", "port": "8000",
                                   "username": "a", "password": "PASSWORD"}),
    ("probe_and_enlist_hardware", {"model": "ucsm", "url": "https://ucsm.example.com/",
                                   "username": "a", "password": "PASSWORD"}),
    ("probe_and_enlist_mscm", {"host": "10.0.0.9", "username": "a", "password": "PASSWORD"}),
    ("probe_and_enlist_ucsm", {"url": "http://ucsm/", "username": "a", "password": "PASSWORD"}),
])
def test_probe_and_enlist_needs_the_cluster(region: RegionProcess, admin: MAASClient,
                                            cluster: str, op: str,
                                            params: dict[str, str]) -> None:
    """Valid probe parameters reach the cluster call: 503 when it is not connected,
    and the password never reaches the region's log."""
    password = "pw-" + secrets.token_hex(8)
    values = {key: password if value == "PASSWORD" else value for key, value in params.items()}
    assert_unavailable(admin.post(f"nodegroups/{cluster}/", op, **values),
                       f"Unable to connect to cluster {cluster}")
    assert password not in region.log_text()


@pytest.mark.parametrize(("params", "fields"), [
    ({}, ["model"]),
    ({"model": "abacus"}, ["model"]),
    ({"model": "virsh"}, ["power_address"]),
    ({"model": "virsh", "power_address": "not a uri"}, ["power_address"]),
    ({"model": "vmware", "host": "h", "username": "u", "password": "p", "port": "99999"},
     ["port"]),
    ({"model": "vmware", "host": "h", "username": "u", "password": "p", "protocol": "ftp"},
     ["protocol"]),
    ({"model": "seamicro15k", "mac": "nope", "username": "u", "password": "p"}, ["mac"]),
    ({"model": "seamicro15k"}, ["mac", "username", "password"]),
    ({"model": "msftocs", "ip": "10.0.0.8", "username": "u", "password": "p"}, ["port"]),
    ({"model": "ucsm", "url": "ftp://x/", "username": "u", "password": "p"}, ["url"]),
])
def test_probe_parameters_are_checked_first(admin: MAASClient, cluster: str,
                                            params: dict[str, str], fields: list[str]) -> None:
    """Missing or malformed probe parameters are a 400 naming the fields."""
    response = admin.post(f"nodegroups/{cluster}/", "probe_and_enlist_hardware", **params)
    assert response.status_code == 400, response.text
    assert sorted(response.json()) == sorted(fields)


def test_probe_is_for_admins(user: MAASClient, cluster: str) -> None:
    response = user.post(f"nodegroups/{cluster}/", "probe_and_enlist_mscm", host="h",
                         username="u", password="p")
    assert response.status_code == 403


# -- nodegroups/<uuid>/interfaces/ ---------------------------------------------------


def test_interface_life(admin: MAASClient, user: MAASClient, cluster: str) -> None:
    """Create, list, read, update and delete an interface, with 1.8's JSON (no router_ip)."""
    base = f"nodegroups/{cluster}/interfaces/"
    created = admin.post(base, "new", name="eth1", interface="eth1", ip="192.168.40.1",
                         subnet_mask="255.255.255.0", router_ip="192.168.40.254",
                         ip_range_low="192.168.40.100", ip_range_high="192.168.40.199",
                         static_ip_range_low="192.168.40.10", static_ip_range_high="192.168.40.49",
                         management="1")
    assert created.status_code == 200, created.text
    expected = {"name": "eth1", "ip": "192.168.40.1", "management": 1, "interface": "eth1",
                "subnet_mask": "255.255.255.0", "broadcast_ip": "192.168.40.255",
                "ip_range_low": "192.168.40.100", "ip_range_high": "192.168.40.199",
                "static_ip_range_low": "192.168.40.10", "static_ip_range_high": "192.168.40.49",
                "resource_uri": f"/MAAS/api/1.0/{base}eth1/"}
    assert created.json() == expected
    assert user.get(base, "list").json() == [expected]
    assert user.get(f"{base}eth1/").json() == expected

    updated = admin.put(f"{base}eth1/", ip_range_high="192.168.40.150", management="2")
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**expected, "ip_range_high": "192.168.40.150", "management": 2}
    renamed = admin.put(f"{base}eth1/", name="lan")
    assert renamed.json()["resource_uri"] == f"/MAAS/api/1.0/{base}lan/"
    assert admin.get(f"{base}eth1/").status_code == 404

    assert user.put(f"{base}lan/", management="0").status_code == 403
    assert user.delete(f"{base}lan/").status_code == 403
    deleted = admin.delete(f"{base}lan/")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert admin.get(f"{base}lan/").status_code == 404
    assert admin.delete(f"{base}lan/").status_code == 404


def test_interface_name_defaults_and_is_unique(admin: MAASClient, cluster: str) -> None:
    """The name defaults to the interface's; a second one of that name is a 400."""
    base = f"nodegroups/{cluster}/interfaces/"
    first = admin.post(base, "new", interface="eth2", ip="10.72.0.1")
    assert first.status_code == 200, first.text
    assert first.json()["name"] == "eth2"
    assert first.json()["subnet_mask"] is None and first.json()["management"] == 0
    again = admin.post(base, "new", interface="eth2", ip="10.73.0.1")
    assert again.status_code == 400
    assert list(again.json()) == ["name"]
    other = admin.post(base, "new", name="eth3", interface="eth3", ip="10.74.0.1")
    renamed = admin.put(f"{base}eth3/", name="eth2")
    assert other.status_code == 200 and renamed.status_code == 400
    assert list(renamed.json()) == ["name"]


@pytest.mark.parametrize(("params", "fields"), [
    ({"name": "x"}, ["ip"]),
    ({"ip": "10.0.0.1", "name": "bad name"}, ["name"]),
    ({"ip": "10.0.0.300", "name": "x"}, ["ip"]),
    ({"ip": "10.0.0.1", "name": "x", "management": "3"}, ["management"]),
    ({"ip": "10.0.0.1", "name": "x", "management": "1"},
     ["interface", "subnet_mask", "ip_range_low", "ip_range_high"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.0.255.0"}, ["subnet_mask"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "broadcast_ip": "10.0.0.254"}, ["broadcast_ip"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "router_ip": "10.0.1.1"}, ["router_ip"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "ip_range_low": "10.0.0.100"}, ["ip_range_high"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "ip_range_low": "10.0.0.200", "ip_range_high": "10.0.0.100"}, ["ip_range_high"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "ip_range_low": "10.0.0.100", "ip_range_high": "10.0.1.100"}, ["ip_range_high"]),
    ({"ip": "10.0.0.1", "name": "x", "subnet_mask": "255.255.255.0",
      "ip_range_low": "10.0.0.100", "ip_range_high": "10.0.0.200",
      "static_ip_range_low": "10.0.0.150", "static_ip_range_high": "10.0.0.250"},
     ["static_ip_range_low"]),
    ({"ip": "10.0.0.1", "name": "x", "router_ip": "10.0.0.2"}, ["subnet_mask"]),
    ({"ip": "fd00::1", "name": "x", "subnet_mask": "ffff:ffff:ffff:ffff::",
      "router_ip": "10.0.0.1"}, ["router_ip"]),
])
def test_interface_settings_are_checked(admin: MAASClient, cluster: str,
                                        params: dict[str, str], fields: list[str]) -> None:
    """Inconsistent settings are a 400 with a JSON object naming each field at fault."""
    response = admin.post(f"nodegroups/{cluster}/interfaces/", "new", **params)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert sorted(response.json()) == sorted(fields)


def test_interface_updates_are_checked_as_a_whole(admin: MAASClient, cluster: str) -> None:
    """A PUT is checked with the stored values: a new mask must still hold the ranges."""
    base = f"nodegroups/{cluster}/interfaces/"
    assert admin.post(base, "new", name="eth0", interface="eth0", ip="10.75.0.1",
                      subnet_mask="255.255.0.0", ip_range_low="10.75.1.1",
                      ip_range_high="10.75.1.200", management="1").status_code == 200
    narrowed = admin.put(f"{base}eth0/", subnet_mask="255.255.255.0")
    assert narrowed.status_code == 400
    assert set(narrowed.json()) == {"ip_range_low", "ip_range_high"}
    moved = admin.put(f"{base}eth0/", ip="10.75.1.1")
    assert moved.status_code == 400 and list(moved.json()) == ["ip"]
    widened = admin.put(f"{base}eth0/", subnet_mask="255.254.0.0")
    assert widened.status_code == 200, widened.text
    assert widened.json()["broadcast_ip"] == "10.75.255.255"  # computed again
    overlapping = admin.post(base, "new", name="eth9", interface="eth9", ip="10.74.0.1",
                             subnet_mask="255.255.0.0", ip_range_low="10.74.1.1",
                             ip_range_high="10.74.1.9", management="1")
    assert overlapping.status_code == 400
    assert list(overlapping.json()) == ["subnet_mask"]


def test_interfaces_of_an_unknown_cluster(admin: MAASClient) -> None:
    assert admin.get("nodegroups/nope/interfaces/", "list").status_code == 404
    assert admin.post("nodegroups/nope/interfaces/", "new", ip="10.0.0.1",
                      name="x").status_code == 404
    assert admin.get("nodegroups/nope/interfaces/eth0/").status_code == 404
