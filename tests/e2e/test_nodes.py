"""Nodes over HTTP against a real region: enlistment, listing, lifecycle operations."""

from __future__ import annotations

import json
import random

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def random_mac() -> str:
    return "52:54:00:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3))


def enlist(client: MAASClient, **extra: object) -> dict:
    params = {"architecture": "amd64", "mac_addresses": [random_mac()],
              "autodetect_nodegroup": "1", **extra}
    response = client.post("nodes/", "new", **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_anonymous_enlistment_is_new(region: RegionProcess) -> None:
    """An anonymous enlistment waits in NEW with the 1.8 representation."""
    mac = random_mac()
    node = enlist(region.anonymous(), mac_addresses=[mac])
    assert node["status"] == 0 and node["substatus"] == 0
    assert node["system_id"].startswith("node-")
    assert node["architecture"] == "amd64/generic"
    assert node["macaddress_set"] == [{
        "mac_address": mac,
        "resource_uri": f"/MAAS/api/1.0/nodes/{node['system_id']}/macs/{mac}/"}]
    assert node["hostname"].endswith(".maas")
    host = node["hostname"].split(".")[0]
    assert len(host.split("-")) >= 2  # adjective-noun
    assert node["zone"]["name"] == "default"
    assert node["owner"] is None
    assert node["resource_uri"] == f"/MAAS/api/1.0/nodes/{node['system_id']}/"
    expected_keys = [
        "system_id", "hostname", "owner", "macaddress_set", "pxe_mac", "architecture",
        "cpu_count", "memory", "swap_size", "storage", "status", "substatus", "osystem",
        "distro_series", "boot_type", "netboot", "power_type", "power_state", "tag_names",
        "ip_addresses", "routers", "zone", "disable_ipv4", "constraint_map",
        "physicalblockdevice_set", "resource_uri"]
    assert list(node) == expected_keys


def test_admin_enlistment_starts_commissioning(admin: MAASClient) -> None:
    """An admin's enlistment is accepted at once: COMMISSIONING."""
    node = enlist(admin, hostname=f"adm-{random.randrange(10**6)}")
    assert node["substatus"] == 1


def test_enlistment_needs_nodegroup_or_autodetect(region: RegionProcess) -> None:
    response = region.anonymous().post("nodes/", "new", architecture="amd64",
                                       mac_addresses=random_mac())
    assert response.status_code == 400
    assert "autodetect_nodegroup" in response.text


@pytest.mark.parametrize(("params", "field"), [
    ({"architecture": "sparc"}, "architecture"),
    ({"mac_addresses": ["not-a-mac"]}, "mac_addresses"),
    ({"power_type": "no-such-type"}, "power_type"),
])
def test_bad_enlistment_is_a_form_error(region: RegionProcess, params: dict, field: str) -> None:
    base = {"architecture": "amd64", "mac_addresses": [random_mac()],
            "autodetect_nodegroup": "1"}
    response = region.anonymous().post("nodes/", "new", **{**base, **params})
    assert response.status_code == 400, response.text
    assert field in response.json()


def test_duplicate_mac_and_hostname_are_refused(region: RegionProcess) -> None:
    anon = region.anonymous()
    mac = random_mac()
    name = f"dup-{random.randrange(10**6)}"
    enlist(anon, mac_addresses=[mac], hostname=name)
    again = anon.post("nodes/", "new", architecture="amd64", mac_addresses=mac,
                      autodetect_nodegroup="1")
    assert again.status_code == 400
    assert "already in use" in again.text
    same_name = anon.post("nodes/", "new", architecture="amd64", mac_addresses=random_mac(),
                          hostname=name, autodetect_nodegroup="1")
    assert same_name.status_code == 400
    assert "already exists" in same_name.text


def test_accept_moves_new_to_commissioning(region: RegionProcess, admin: MAASClient) -> None:
    """accept returns the ids whose status changed; a second accept changes nothing."""
    node = enlist(region.anonymous())
    sid = node["system_id"]
    assert admin.post("nodes/", "accept", nodes=[sid]).json() == [sid]
    assert admin.get(f"nodes/{sid}/").json()["substatus"] == 1
    assert admin.post("nodes/", "accept", nodes=[sid]).json() == []


def test_accept_needs_login_and_admin(region: RegionProcess, admin: MAASClient) -> None:
    sid = enlist(region.anonymous())["system_id"]
    anonymous = region.anonymous().post("nodes/", "accept", nodes=[sid])
    assert anonymous.status_code == 401
    assert anonymous.text == "You must be logged in to accept nodes."
    _, user = region.new_user(admin)
    assert user.post("nodes/", "accept", nodes=[sid]).status_code == 403
    assert admin.post("nodes/", "accept", nodes=["node-nope"]).status_code == 400


def test_list_filters(region: RegionProcess, admin: MAASClient) -> None:
    """op=list filters by id, hostname, MAC address, zone and agent name."""
    mac = random_mac()
    node = enlist(region.anonymous(), mac_addresses=[mac])
    sid = node["system_id"]
    assert [n["system_id"] for n in admin.get("nodes/", "list", id=sid).json()] == [sid]
    by_mac = admin.get("nodes/", "list", mac_address=mac.upper()).json()
    assert [n["system_id"] for n in by_mac] == [sid]
    by_host = admin.get("nodes/", "list", hostname=node["hostname"]).json()
    assert [n["system_id"] for n in by_host] == [sid]
    assert admin.get("nodes/", "list", mac_address="zz").status_code == 400
    everything = admin.get("nodes/", "list").json()
    ids = [n["system_id"] for n in everything]
    assert sid in ids
    assert ids == sorted(ids, key=ids.index)  # stable order (by id)


def test_node_update_and_delete(admin: MAASClient) -> None:
    node = enlist(admin)
    sid = node["system_id"]
    name = f"renamed-{random.randrange(10**6)}"
    updated = admin.put(f"nodes/{sid}/", hostname=name, swap_size="2G")
    assert updated.status_code == 200, updated.text
    assert updated.json()["hostname"] == f"{name}.maas"
    assert updated.json()["swap_size"] == 2_000_000_000
    assert admin.delete(f"nodes/{sid}/").status_code == 204
    assert admin.get(f"nodes/{sid}/").status_code == 404


def test_power_parameters_are_for_admins(region: RegionProcess, admin: MAASClient) -> None:
    """Power parameters (with passwords) are shown to admins only."""
    node = enlist(region.anonymous(), power_type="ipmi", power_parameters=json.dumps(
        {"power_address": "10.0.0.9", "power_user": "root", "power_pass": "s3cret"}))
    sid = node["system_id"]
    params = admin.get(f"nodes/{sid}/", "power_parameters").json()
    assert params["power_pass"] == "s3cret"
    assert admin.get("nodes/", "power_parameters", id=sid).json()[sid]["power_user"] == "root"
    _, user = region.new_user(admin)
    assert user.get(f"nodes/{sid}/", "power_parameters").status_code == 403
    assert "s3cret" not in user.get(f"nodes/{sid}/").text


def test_macs_resource(admin: MAASClient) -> None:
    node = enlist(admin)
    sid = node["system_id"]
    extra = random_mac()
    created = admin.post(f"nodes/{sid}/macs/", mac_address=extra)
    assert created.json()["mac_address"] == extra
    listed = [m["mac_address"] for m in admin.get(f"nodes/{sid}/macs/").json()]
    assert extra in listed and len(listed) == 2
    assert admin.get(f"nodes/{sid}/macs/{extra}/").status_code == 200
    assert admin.delete(f"nodes/{sid}/macs/{extra}/").status_code == 204
    assert admin.get(f"nodes/{sid}/macs/{extra}/").status_code == 404


def test_mark_broken_and_fixed(admin: MAASClient) -> None:
    node = enlist(admin)
    sid = node["system_id"]
    broken = admin.post(f"nodes/{sid}/", "mark_broken", error_description="fan")
    assert broken.json()["substatus"] == 8
    assert admin.post(f"nodes/{sid}/", "mark_fixed").json()["substatus"] == 4
    again = admin.post(f"nodes/{sid}/", "mark_fixed")
    assert again.status_code == 409
    assert again.text == "Can't mark a non-broken node as 'Ready'."


def test_events_record_status_changes(admin: MAASClient) -> None:
    """Every status change is an event, queryable per node."""
    node = enlist(admin)
    sid = node["system_id"]
    admin.post(f"nodes/{sid}/", "mark_broken")
    result = admin.get("events/", "query", id=sid).json()
    descriptions = [event["description"] for event in result["events"]]
    assert "From 'Commissioning' to 'Broken'" in descriptions
    assert "From 'New' to 'Commissioning'" in descriptions
    assert result["count"] == len(result["events"])
    assert result["events"][0]["id"] > result["events"][-1]["id"]  # newest first


def test_acquire_and_release(admin: MAASClient) -> None:
    """A READY node can be acquired (ALLOCATED, owned) and released (READY again)."""
    node = enlist(admin)
    sid = node["system_id"]
    admin.post(f"nodes/{sid}/", "mark_broken")
    admin.post(f"nodes/{sid}/", "mark_fixed")
    acquired = admin.post("nodes/", "acquire", name=node["hostname"], agent_name="juju")
    assert acquired.status_code == 200, acquired.text
    assert acquired.json()["system_id"] == sid
    assert acquired.json()["substatus"] == 10
    assert acquired.json()["status"] == 6  # folded for old clients
    assert acquired.json()["owner"] == "admin"
    allocated = [n["system_id"] for n in admin.get("nodes/", "list_allocated").json()]
    assert sid in allocated
    assert admin.post("nodes/", "acquire", name=node["hostname"]).status_code == 409
    released = admin.post("nodes/", "release", nodes=[sid])
    assert released.json() == [sid]
    assert admin.get(f"nodes/{sid}/").json()["substatus"] == 4
    assert admin.get(f"nodes/{sid}/").json()["owner"] is None


def test_deployment_status(admin: MAASClient) -> None:
    sid = enlist(admin)["system_id"]
    assert admin.get("nodes/", "deployment_status", nodes=sid).json() == {
        sid: "Not in deployment"}
    assert admin.get("nodes/", "deployment_status").status_code == 400


def test_is_registered(region: RegionProcess) -> None:
    mac = random_mac()
    anon = region.anonymous()
    assert anon.get("nodes/", "is_registered", mac_address=mac).json() is False
    enlist(anon, mac_addresses=[mac])
    assert anon.get("nodes/", "is_registered", mac_address=mac).json() is True


def test_details_is_bson(admin: MAASClient) -> None:
    """details answers BSON with null lshw/lldp before commissioning."""
    from region.domain import bson

    sid = enlist(admin)["system_id"]
    response = admin.get(f"nodes/{sid}/", "details")
    assert response.headers["Content-Type"] == "application/bson"
    assert bson.decode(response.content) == {"lshw": None, "lldp": None}
