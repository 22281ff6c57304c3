"""
The metadata service against a real region, driven as a booting node drives it.

A node learns its credentials from its preseed (``by-id op=get_preseed``,
anonymous) and signs every other request with them: requests +
requests-oauthlib, OAuth 1.0a PLAINTEXT, multipart signals.  Nothing here
uses the region's own code.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT
from requests_oauthlib import OAuth1

from tests.conftest import Server, run_region_command
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data" / "commissioning"
LSHW = "00-maas-01-lshw.out"
VIRTUALITY = "00-maas-02-virtuality.out"
IP_LINK = "00-maas-05-network-interfaces.out"
BLOCK_DEVICES = "00-maas-07-block-devices.out"
LLDP = "99-maas-02-capture-lldp.out"
BUILTIN_SCRIPTS = [
    "00-maas-01-lshw", "00-maas-02-virtuality", "00-maas-03-install-lldpd",
    "00-maas-04-list-modaliases", "00-maas-05-network-interfaces",
    "00-maas-06-dhcp-unconfigured-ifaces", "00-maas-07-block-devices",
    "99-maas-01-wait-for-lldpd", "99-maas-02-capture-lldp",
]

READY, COMMISSIONING, FAILED_COMMISSIONING, NEW = 4, 1, 2, 0
DEPLOYED, DEPLOYING, FAILED_DEPLOYMENT, DISK_ERASING, FAILED_DISK_ERASING = 6, 9, 11, 14, 15

#: The test machine (tests/data/commissioning/README.md) and what MAAS learns of it.
MACHINE = "hp-dl380-gen9"
EXPECTED_CPU_COUNT = 40  # 2 x Xeon E5-2650 v3, 20 threads each
EXPECTED_MEMORY = 131072  # MiB: 8 x 16 GiB
#: eth0-eth3, and the one MAC bond0 shares with eth4 and eth5.
EXPECTED_MACS = {"3c:a8:2a:0e:71:d0", "3c:a8:2a:0e:71:d1", "3c:a8:2a:0e:71:d2",
                 "3c:a8:2a:0e:71:d3", "a0:36:9f:51:3c:88"}
EXPECTED_ROUTERS = ["00:1b:d4:5e:a1:00", "00:1c:73:8a:2b:40"]
#: sde, the read-only iLO virtual media, is left out.
EXPECTED_DISKS = {"sda", "sdb", "sdc", "sdd"}
#: A tag definition the machine matches: a memory node (a DIMM) above 8 GiB.
BIG_MEMORY = "//node[@class='memory']/size > 8589934592"


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def enlist(client: MAASClient, **extra: Any) -> dict[str, Any]:
    params = {"architecture": "amd64", "mac_addresses": [random_mac()],
              "autodetect_nodegroup": "1", **extra}
    response = client.post("nodes/", "new", **params)
    assert response.status_code == 200, response.text
    return response.json()


def commissioning_node(region: RegionProcess, admin: MAASClient) -> dict[str, Any]:
    """A node enlisted anonymously and accepted by the admin: COMMISSIONING."""
    node = enlist(region.anonymous())
    response = admin.post("nodes/", "accept", nodes=[node["system_id"]])
    assert response.status_code == 200, response.text
    return read_node(admin, node["system_id"])


def read_node(admin: MAASClient, system_id: str) -> dict[str, Any]:
    response = admin.get(f"nodes/{system_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def parse_preseed(text: str) -> dict[str, str]:
    """The MAAS datasource of a #cloud-config preseed (a small YAML subset)."""
    lines = text.splitlines()
    assert lines[0] == "#cloud-config"
    found: dict[str, str] = {}
    inside = False
    for line in lines[1:]:
        if line.strip() == "MAAS:":
            inside = True
            continue
        if inside:
            match = re.fullmatch(r"\s+(\w+):\s*(.*)", line)
            if not match:
                break
            value = match.group(2).strip()
            found[match.group(1)] = json.loads(value) if value.startswith('"') else value
    return found


def metadata_root(region: RegionProcess) -> str:
    return region.url + "/MAAS/metadata/"


def get_preseed(region: RegionProcess, system_id: str) -> requests.Response:
    return requests.get(metadata_root(region) + f"latest/by-id/{system_id}/",
                        params={"op": "get_preseed"}, timeout=30)


class Node:
    """A booting node: its credentials come from its preseed, as cloud-init's would."""

    def __init__(self, region: RegionProcess, system_id: str) -> None:
        response = get_preseed(region, system_id)
        assert response.status_code == 200, response.text
        self.system_id = system_id
        self.datasource = parse_preseed(response.text)
        self.url = self.datasource["metadata_url"]
        self.auth = OAuth1(self.datasource["consumer_key"], client_secret="",
                           resource_owner_key=self.datasource["token_key"],
                           resource_owner_secret=self.datasource["token_secret"],
                           signature_method=SIGNATURE_PLAINTEXT)

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, auth=self.auth, timeout=30)

    def post(self, path: str, op: str, **fields: str) -> requests.Response:
        parts = {name: (None, value) for name, value in fields.items()}
        return requests.post(self.url + path, params={"op": op}, files=parts or None,
                             auth=self.auth, timeout=30)

    def signal(self, status: str | None, files: dict[str, bytes] | None = None,
               version: str = "latest", **fields: str) -> requests.Response:
        """A multipart signal, each result file a part named after it."""
        parts: list[tuple[str, tuple[str | None, bytes | str]]] = []
        if status is not None:
            parts.append(("status", (None, status)))
        parts += [(name, (None, value)) for name, value in fields.items()]
        parts += [(name, (name, content)) for name, content in (files or {}).items()]
        return requests.post(self.url + f"{version}/", params={"op": "signal"}, files=parts,
                             auth=self.auth, timeout=60)


def results(admin: MAASClient, system_id: str) -> dict[str, dict[str, Any]]:
    response = admin.get("commissioning-results/", "list", system_id=system_id)
    assert response.status_code == 200, response.text
    return {row["name"]: row for row in response.json()}


@pytest.fixture
def node(region: RegionProcess, admin: MAASClient) -> Node:
    """A COMMISSIONING node with its credentials."""
    return Node(region, commissioning_node(region, admin)["system_id"])


# -- authentication and versions -----------------------------------------------


def test_root_lists_the_versions(node: Node) -> None:
    """The metadata root lists 2012-03-01 and latest, as sorted plain text."""
    response = node.get("")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "2012-03-01\nlatest"


@pytest.mark.parametrize("version", ["latest", "2012-03-01"])
def test_version_index_lists_what_a_commissioning_node_may_read(node: Node,
                                                                version: str) -> None:
    """<v>/ lists the scripts, meta-data and (while commissioning) user-data."""
    response = node.get(f"{version}/")
    assert response.status_code == 200, response.text
    assert response.text == "maas-commissioning-scripts\nmeta-data\nuser-data"


def test_unknown_version_is_404(node: Node) -> None:
    """Any version but latest and 2012-03-01 is 404 with 1.8's message."""
    response = node.get("2009-04-04/meta-data/")
    assert response.status_code == 404
    assert response.text == "Unknown metadata version: 2009-04-04"


def test_unknown_path_is_404(node: Node) -> None:
    """A path the service does not know is 404."""
    assert node.get("latest/no-such-thing").status_code == 404
    assert node.get("latest/meta-data/no-such-item").status_code == 404


def test_request_without_credentials_is_401(region: RegionProcess) -> None:
    """A node's own endpoints need OAuth credentials."""
    response = requests.get(metadata_root(region) + "latest/meta-data/", timeout=30)
    assert response.status_code == 401


def test_bad_signature_is_401(region: RegionProcess, node: Node) -> None:
    """A request signed with the wrong secret is refused."""
    auth = OAuth1(node.datasource["consumer_key"], client_secret="",
                  resource_owner_key=node.datasource["token_key"],
                  resource_owner_secret="wrong", signature_method=SIGNATURE_PLAINTEXT)
    response = requests.get(node.url + "latest/meta-data/", auth=auth, timeout=30)
    assert response.status_code == 401


def test_user_key_is_not_a_node_403(region: RegionProcess, admin: MAASClient) -> None:
    """A valid key that is not a node's is 403 'Not authenticated as a known node.'"""
    response = requests.get(metadata_root(region) + "latest/meta-data/", auth=admin.auth,
                            timeout=30)
    assert response.status_code == 403
    assert response.text == "Not authenticated as a known node."


def test_preseed_hands_the_node_its_own_stable_credentials(region: RegionProcess,
                                                           node: Node) -> None:
    """get_preseed is a #cloud-config MAAS datasource; asking twice gives the same key."""
    again = parse_preseed(get_preseed(region, node.system_id).text)
    assert again == node.datasource
    assert node.url == metadata_root(region)
    assert set(node.datasource) == {"metadata_url", "consumer_key", "token_key",
                                    "token_secret"}
    other = Node(region, enlist(region.anonymous())["system_id"])
    assert other.datasource["token_key"] != node.datasource["token_key"]


def test_preseed_of_unknown_node_is_404(region: RegionProcess) -> None:
    """get_preseed for a system_id no node has (or could have) is 404."""
    assert get_preseed(region, "node-no-such-node").status_code == 404
    assert get_preseed(region, "node-%00").status_code == 404


def test_by_mac_is_refused(region: RegionProcess) -> None:
    """by-mac access is refused: ALLOW_UNSAFE_METADATA_ACCESS is off."""
    response = requests.get(metadata_root(region) + "latest/by-mac/52:54:00:00:00:01/",
                            timeout=30)
    assert response.status_code == 403


# -- meta-data, user-data, scripts ---------------------------------------------


def test_meta_data_of_an_unowned_node(admin: MAASClient, node: Node) -> None:
    """meta-data lists instance-id, local-hostname and x509 (no public-keys without keys)."""
    assert node.get("latest/meta-data/").text == "instance-id\nlocal-hostname\nx509"
    assert node.get("latest/meta-data/instance-id").text == node.system_id
    fqdn = read_node(admin, node.system_id)["hostname"]
    assert node.get("latest/meta-data/local-hostname").text == fqdn
    assert node.get("2012-03-01/meta-data/x509").text == ""


def test_commissioning_user_data_is_the_commissioning_script(node: Node) -> None:
    """While commissioning, user-data is a script carrying the node's own credentials."""
    response = node.get("latest/user-data")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    script = response.content
    assert script.startswith(b"#!/usr/bin/env python3")
    match = re.search(rb'b64decode\("([A-Za-z0-9+/=]+)"\)', script)
    assert match
    config = json.loads(base64.b64decode(match.group(1)))
    assert config["metadata_url"] == node.url
    assert config["token_key"] == node.datasource["token_key"]


def test_scripts_archive_has_builtin_and_uploaded_scripts(admin: MAASClient,
                                                          node: Node) -> None:
    """maas-commissioning-scripts is a tar of the built-in and the admin's scripts."""
    name = f"50-custom-{secrets.token_hex(3)}"
    content = b"#!/bin/sh\necho custom\n"
    response = admin.post("commissioning-scripts/", name=name, files={"content": content})
    assert response.status_code == 200, response.text
    try:
        response = node.get("latest/maas-commissioning-scripts")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/tar"
        with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
            members = {m.name: m for m in tar.getmembers()}
            names = [n.split("/", 1)[1] for n in members]
            assert all(n.startswith("commissioning.d/") for n in members)
            assert set(BUILTIN_SCRIPTS) | {name} <= set(names)
            assert names == sorted(names)
            custom = members[f"commissioning.d/{name}"]
            assert custom.mode & 0o100
            extracted = tar.extractfile(custom)
            assert extracted is not None and extracted.read() == content
    finally:
        admin.delete(f"commissioning-scripts/{name}")


def test_netboot_off_and_on_show_in_the_node(admin: MAASClient, node: Node) -> None:
    """netboot_off and netboot_on answer OK and set the node's netboot flag."""
    response = node.post("latest/", "netboot_off")
    assert (response.status_code, response.text) == (200, "OK")
    assert read_node(admin, node.system_id)["netboot"] is False
    response = node.post("latest/", "netboot_on")
    assert (response.status_code, response.text) == (200, "OK")
    assert read_node(admin, node.system_id)["netboot"] is True


def test_anonymous_netboot_off_by_id(region: RegionProcess, admin: MAASClient,
                                     node: Node) -> None:
    """by-id netboot_off needs no credentials (the installer calls it)."""
    response = requests.post(metadata_root(region) + f"latest/by-id/{node.system_id}/",
                             params={"op": "netboot_off"}, timeout=30)
    assert (response.status_code, response.text) == (200, "OK")
    assert read_node(admin, node.system_id)["netboot"] is False


def test_unknown_op_is_400(node: Node) -> None:
    """An op the version resource does not have is a 400."""
    assert node.post("latest/", "explode").status_code == 400


# -- enlistment ------------------------------------------------------------------


def test_enlistment_meta_data(region: RegionProcess) -> None:
    """enlist/<v>/meta-data serves fixed, anonymous answers."""
    base = metadata_root(region) + "enlist/latest/meta-data/"
    assert requests.get(base, timeout=30).text == "instance-id\nlocal-hostname"
    assert requests.get(base + "instance-id", timeout=30).text == "i-maas-enlistment"
    assert requests.get(base + "local-hostname", timeout=30).text == "maas-enlisting-node"
    response = requests.get(base + "public-keys", timeout=30)
    assert (response.status_code, response.text) == (200, "")


def test_enlistment_user_data_and_preseed(region: RegionProcess) -> None:
    """Enlistment user-data is a Python script; the enlist preseed points at enlist/."""
    response = requests.get(metadata_root(region) + "enlist/latest/user-data", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content.startswith(b"#!/usr/bin/env python3")
    compile(response.content, "enlist-user-data", "exec")
    response = requests.get(metadata_root(region) + "latest/enlist-preseed/",
                            params={"op": "get_enlist_preseed"}, timeout=30)
    assert response.status_code == 200
    assert parse_preseed(response.text) == {
        "metadata_url": metadata_root(region) + "enlist/"}


# -- signal ----------------------------------------------------------------------


def test_signal_working_stores_results_and_keeps_commissioning(admin: MAASClient,
                                                               node: Node) -> None:
    """WORKING stores the results (with script_result) and leaves the status alone."""
    response = node.signal("WORKING", {"10-custom.out": b"hello\n"}, script_result="3")
    assert (response.status_code, response.text) == (200, "OK")
    assert read_node(admin, node.system_id)["substatus"] == COMMISSIONING
    stored = results(admin, node.system_id)["10-custom.out"]
    assert base64.b64decode(stored["data"]) == b"hello\n"
    assert (stored["script_result"], stored["result_type"]) == (3, 0)


def test_signal_failed_fails_commissioning(admin: MAASClient, node: Node) -> None:
    """FAILED → FAILED_COMMISSIONING; later signals are accepted and ignored."""
    response = node.signal("FAILED", error="lshw exploded")
    assert response.status_code == 200, response.text
    after = read_node(admin, node.system_id)
    assert after["substatus"] == FAILED_COMMISSIONING
    response = node.signal("OK")
    assert (response.status_code, response.text) == (200, "OK")
    assert read_node(admin, node.system_id)["substatus"] == FAILED_COMMISSIONING


def test_failed_node_is_told_to_power_off(admin: MAASClient, node: Node) -> None:
    """Once commissioning has failed, user-data is the power-off script."""
    assert node.signal("FAILED").status_code == 200
    response = node.get("latest/user-data")
    assert response.status_code == 200
    assert response.content.startswith(b"#!/bin/sh") and b"poweroff" in response.content


def test_signal_needs_a_known_status(node: Node) -> None:
    """A signal without a status, or with an unknown one, is a 400."""
    assert node.signal(None).status_code == 400
    assert node.signal("FINISHED").status_code == 400
    assert node.signal("OK", script_result="zero").status_code == 400


def test_signal_from_a_new_node_is_409(region: RegionProcess) -> None:
    """A node that is not commissioning/installing cannot signal (409, 1.8's message)."""
    new = Node(region, enlist(region.anonymous())["system_id"])
    response = new.signal("OK")
    assert response.status_code == 409
    assert response.text == "Node wasn't commissioning/installing (status is New)"


def test_failed_script_runs_no_hook(admin: MAASClient, node: Node) -> None:
    """A non-zero script_result stores the output but does not apply it."""
    response = node.signal("WORKING", {LSHW: data(f"lshw-{MACHINE}.xml")}, script_result="1")
    assert response.status_code == 200, response.text
    assert read_node(admin, node.system_id)["cpu_count"] == 0
    assert results(admin, node.system_id)[LSHW]["script_result"] == 1


def test_unusable_output_is_stored_and_commissioning_still_finishes(admin: MAASClient,
                                                                   node: Node) -> None:
    """Output a hook cannot parse is stored, and the node still becomes READY."""
    response = node.signal("OK", {LSHW: b"<not xml", BLOCK_DEVICES: b"{"})
    assert response.status_code == 200, response.text
    after = read_node(admin, node.system_id)
    assert after["substatus"] == READY
    assert after["cpu_count"] == 0
    assert LSHW in results(admin, node.system_id)


def test_virtuality_adds_and_removes_the_virtual_tag(admin: MAASClient, node: Node) -> None:
    """'virtual' tags the node virtual (creating the tag); 'notvirtual' removes it."""
    response = node.signal("WORKING", {VIRTUALITY: b"virtual\n"})
    assert response.status_code == 200, response.text
    assert "virtual" in read_node(admin, node.system_id)["tag_names"]
    response = node.signal("WORKING", {VIRTUALITY: b"notvirtual\n"})
    assert response.status_code == 200, response.text
    assert "virtual" not in read_node(admin, node.system_id)["tag_names"]


def test_power_settings_from_commissioning_are_stored(admin: MAASClient, node: Node) -> None:
    """power_type and power_parameters sent with a signal become the node's."""
    params = {"power_address": "10.9.8.7", "power_user": "maas", "power_pass": "pw"}
    response = node.signal("WORKING", power_type="ipmi",
                           power_parameters=json.dumps(params))
    assert response.status_code == 200, response.text
    assert read_node(admin, node.system_id)["power_type"] == "ipmi"
    stored = admin.get(f"nodes/{node.system_id}/", "power_parameters").json()
    assert stored["power_address"] == "10.9.8.7"


def test_bad_power_settings_are_400_and_change_nothing(admin: MAASClient,
                                                       node: Node) -> None:
    """Invalid power settings refuse the whole signal: nothing is stored."""
    response = node.signal("OK", {"10-x.out": b"x"}, power_type="no-such-power-type",
                           power_parameters="{}")
    assert response.status_code == 400
    assert read_node(admin, node.system_id)["substatus"] == COMMISSIONING
    assert "10-x.out" not in results(admin, node.system_id)


# -- the whole commissioning flow -------------------------------------------------


def test_enlist_accept_commission_tag_acquire_release(region: RegionProcess,
                                                      admin: MAASClient) -> None:
    """Enlist, accept, commission with real outputs → READY, tagged; acquire by tag, release."""
    tag = f"bigmem-{secrets.token_hex(3)}"
    response = admin.post("tags/", "new", name=tag, definition=BIG_MEMORY)
    assert response.status_code == 200, response.text

    pxe_mac = random_mac()
    enlisted = enlist(region.anonymous(), mac_addresses=[pxe_mac])
    system_id = enlisted["system_id"]
    assert enlisted["substatus"] == NEW
    response = admin.post("nodes/", "accept", nodes=[system_id])
    assert response.status_code == 200, response.text
    assert read_node(admin, system_id)["substatus"] == COMMISSIONING

    node = Node(region, system_id)
    assert node.get("latest/user-data").status_code == 200
    assert node.get("latest/maas-commissioning-scripts").status_code == 200
    response = node.signal("WORKING", {VIRTUALITY: b"notvirtual\n"})
    assert response.status_code == 200, response.text
    response = node.signal("OK", {
        LSHW: data(f"lshw-{MACHINE}.xml"), IP_LINK: data(f"ip-link-{MACHINE}.txt"),
        LLDP: data(f"lldp-{MACHINE}.xml"), BLOCK_DEVICES: data(f"block-devices-{MACHINE}.json"),
    }, script_result="0")
    assert (response.status_code, response.text) == (200, "OK")

    ready = read_node(admin, system_id)
    assert ready["substatus"] == READY
    assert ready["owner"] is None
    assert ready["cpu_count"] == EXPECTED_CPU_COUNT
    assert ready["memory"] == EXPECTED_MEMORY
    macs = {entry["mac_address"] for entry in ready["macaddress_set"]}
    assert macs == EXPECTED_MACS  # the enlisted MAC, not seen by ip link, is gone
    assert sorted(ready["routers"]) == EXPECTED_ROUTERS
    disks = {disk["name"]: disk for disk in ready["physicalblockdevice_set"]}
    assert set(disks) == EXPECTED_DISKS
    assert disks["sdc"]["size"] == 2000398934016
    assert sorted(disks["sdc"]["tags"]) == ["7200rpm", "rotary", "sata"]
    assert disks["sdb"]["id_path"] == (
        "/dev/disk/by-id/ata-INTEL_SSDSC2BX480G4_BTHC5123009V480MGN")
    assert tag in ready["tag_names"]
    assert "virtual" not in ready["tag_names"]
    assert set(results(admin, system_id)) >= {LSHW, IP_LINK, LLDP, BLOCK_DEVICES, VIRTUALITY}

    response = admin.post("nodes/", "acquire", tags=tag, name=ready["hostname"])
    assert response.status_code == 200, response.text
    acquired = response.json()
    assert acquired["system_id"] == system_id
    assert acquired["owner"] == "admin"
    response = admin.post(f"nodes/{system_id}/", "release")
    assert response.status_code == 200, response.text
    released = read_node(admin, system_id)
    assert released["substatus"] == READY
    assert released["owner"] is None


def test_public_keys_are_the_owners(region: RegionProcess, admin: MAASClient,
                                    tmp_path: Path) -> None:
    """Once a user with SSH keys owns the node, meta-data lists and serves their keys."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    node = Node(region, commissioning_node(region, admin)["system_id"])
    assert node.signal("OK").status_code == 200
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "owner@node",
                    "-f", str(tmp_path / "key")], check=True, timeout=60)
    key = (tmp_path / "key.pub").read_text().strip()
    _, user = region.new_user(admin)
    assert user.post("account/prefs/sshkeys/", "new", key=key).status_code == 201
    hostname = read_node(admin, node.system_id)["hostname"]
    response = user.post("nodes/", "acquire", name=hostname)
    assert response.status_code == 200, response.text
    assert node.get("latest/meta-data/").text == (
        "instance-id\nlocal-hostname\npublic-keys\nx509")
    assert node.get("latest/meta-data/public-keys").text == key


# -- a node running the real commissioning user-data ------------------------------

#: Commands the built-in scripts run, replaced by stubs that print what a
#: machine with the test data's hardware would print (and touch nothing).
LSBLK_LINES = [
    'NAME="sdb" RO="0" RM="0" MODEL="INTEL SSDSC2BX48" ROTA="0" TYPE="disk" '
    'SIZE="480103981056" LOG-SEC="512"',
    'NAME="sdc" RO="0" RM="0" MODEL="ST2000NM0033-9ZM" ROTA="1" TYPE="disk" '
    'SIZE="2000398934016" LOG-SEC="4096"',
    'NAME="sr0" RO="1" RM="1" MODEL="Virtual DVD-ROM" ROTA="1" TYPE="rom" '
    'SIZE="1073741312" LOG-SEC="2048"',
]
STUB_LSBLK = "#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in LSBLK_LINES)
STUB_UDEVADM = r"""#!/bin/sh
case "$*" in
*/dev/sdb*) printf '%s\n' DEVNAME=/dev/sdb ID_SERIAL_SHORT=BTHC5123009V480MGN ID_ATA_SATA=1 \
    'DEVLINKS=/dev/disk/by-path/pci-0000:00:1f.2-ata-1 /dev/disk/by-id/ata-INTEL_SSDSC2BX48' ;;
*/dev/sdc*) printf '%s\n' DEVNAME=/dev/sdc ID_SERIAL_SHORT=Z1X4KQ9M ID_ATA_SATA=1 \
    ID_ATA_ROTATION_RATE_RPM=7200 'DEVLINKS=/dev/disk/by-id/ata-ST2000NM0033-9ZM175_Z1X4KQ9M' ;;
esac
"""


def install_stubs(directory: Path) -> None:
    stubs = {
        "lshw": f'#!/bin/sh\ncat "{DATA}/lshw-{MACHINE}.xml"\n',
        "ip": f'#!/bin/sh\nif [ "$*" = link ]; then cat "{DATA}/ip-link-{MACHINE}.txt"; fi\n',
        "lldpctl": f'#!/bin/sh\ncat "{DATA}/lldp-{MACHINE}.xml"\n',
        "systemd-detect-virt": "#!/bin/sh\nexit 1\n",  # not a virtual machine
        "lsblk": STUB_LSBLK,
        "udevadm": STUB_UDEVADM,
    }
    for quiet in ("lldpcli", "lldpd", "apt-get", "dhclient"):
        stubs[quiet] = "#!/bin/sh\nexit 0\n"
    for name, text in stubs.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o755)


@pytest.fixture(scope="module")
def own_region(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A region of its own: no other test's commissioning scripts in its archive."""
    url = pg_server.create_database("maasmeta")
    run_region_command(url, "migrate")
    run_region_command(url, "createadmin", "--username", "admin", "--password", "test",
                       "--email", "admin@example.com")
    process = RegionProcess.start(url, tmp_path_factory.mktemp("metadata") / "region.log")
    try:
        yield process
    finally:
        process.stop()


def test_node_running_the_commissioning_user_data_becomes_ready(
        own_region: RegionProcess, tmp_path: Path) -> None:
    """Running the commissioning user-data (tools stubbed) commissions the node to READY."""
    region = own_region
    admin = region.client_for("admin")
    response = admin.post("commissioning-scripts/", name="50-hello",
                          files={"content": b"#!/bin/sh\necho hello from $(uname -s)\n"})
    assert response.status_code == 200, response.text
    node = Node(region, commissioning_node(region, admin)["system_id"])
    script = tmp_path / "user-data"
    script.write_bytes(node.get("latest/user-data").content)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    install_stubs(stubs)
    env = dict(os.environ, PATH=f"{stubs}:{Path(sys.executable).parent}:{os.environ['PATH']}")
    finished = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr

    ready = read_node(admin, node.system_id)
    assert ready["substatus"] == READY
    assert ready["cpu_count"] == EXPECTED_CPU_COUNT
    assert ready["memory"] == EXPECTED_MEMORY
    assert {entry["mac_address"] for entry in ready["macaddress_set"]} == EXPECTED_MACS
    assert sorted(ready["routers"]) == EXPECTED_ROUTERS
    assert "virtual" not in ready["tag_names"]
    disks = {disk["name"]: disk for disk in ready["physicalblockdevice_set"]}
    assert set(disks) == {"sdb", "sdc"}  # the read-only DVD is left out
    assert disks["sdb"]["id_path"] == "/dev/disk/by-id/ata-INTEL_SSDSC2BX48"
    assert (disks["sdb"]["size"], disks["sdb"]["block_size"]) == (480103981056, 512)
    assert disks["sdb"]["serial"] == "BTHC5123009V480MGN"
    assert sorted(disks["sdb"]["tags"]) == ["sata", "ssd"]
    assert sorted(disks["sdc"]["tags"]) == ["7200rpm", "rotary", "sata"]
    assert disks["sdc"]["model"] == "ST2000NM0033-9ZM"
    stored = results(admin, node.system_id)
    ran = [*BUILTIN_SCRIPTS, "50-hello"]
    assert {f"{name}.out" for name in ran} <= set(stored)
    assert all(stored[f"{name}.out"]["script_result"] == 0 for name in ran)
    assert base64.b64decode(stored["50-hello.out"]["data"]) == b"hello from Linux\n"


# -- deployment and disk erasing ---------------------------------------------------


def force_status(region: RegionProcess, system_id: str, status: int,
                 user_data: bytes | None = None) -> None:
    """Test setup only: put a node in a status that needs a cluster to reach
    (deploying, erasing), optionally with stored user-data, straight in SQL."""
    connection = psycopg2.connect(region.database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("UPDATE nodes SET status = %s WHERE system_id = %s RETURNING id",
                           (status, system_id))
            (node_id,) = cursor.fetchone()
            if user_data is not None:
                cursor.execute("INSERT INTO node_userdata (node_id, data) VALUES (%s, %s)",
                               (node_id, user_data))
    finally:
        connection.close()


def test_user_data_fetch_while_deploying_completes_deployment(region: RegionProcess,
                                                              admin: MAASClient,
                                                              node: Node) -> None:
    """A deploying node fetching its user-data is DEPLOYED and gets the stored bytes."""
    force_status(region, node.system_id, DEPLOYING, user_data=b"#!/bin/sh\necho hi\n\xff")
    assert node.get("latest/").text == "maas-commissioning-scripts\nmeta-data\nuser-data"
    response = node.get("latest/user-data")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == b"#!/bin/sh\necho hi\n\xff"
    assert read_node(admin, node.system_id)["substatus"] == DEPLOYED
    response = node.signal("OK")
    assert response.status_code == 409
    assert response.text == "Node wasn't commissioning/installing (status is Deployed)"


def test_deployed_node_without_user_data_gets_404(region: RegionProcess, admin: MAASClient,
                                                  node: Node) -> None:
    """Without stored user-data the fetch is 404, and still ends the deployment."""
    force_status(region, node.system_id, DEPLOYING)
    assert node.get("latest/").text == "maas-commissioning-scripts\nmeta-data"
    assert node.get("latest/user-data").status_code == 404
    assert read_node(admin, node.system_id)["substatus"] == DEPLOYED


def test_installation_failure_fails_the_deployment(region: RegionProcess, admin: MAASClient,
                                                   node: Node) -> None:
    """Signals while deploying store installation results; FAILED → FAILED_DEPLOYMENT."""
    force_status(region, node.system_id, DEPLOYING)
    response = node.signal("WORKING", {"curtin-install.log": b"step 1\n"})
    assert response.status_code == 200, response.text
    assert read_node(admin, node.system_id)["substatus"] == DEPLOYING
    response = node.signal("FAILED", {"curtin-error.log": b"boom\n"})
    assert response.status_code == 200, response.text
    assert read_node(admin, node.system_id)["substatus"] == FAILED_DEPLOYMENT
    listed = admin.get("installation-results/", "list", system_id=node.system_id).json()
    assert {row["name"]: row["result_type"] for row in listed} == {
        "curtin-install.log": 1, "curtin-error.log": 1}


def test_disk_erasing_ok_releases_and_failed_fails(region: RegionProcess,
                                                   admin: MAASClient) -> None:
    """Erasing disks: OK releases the node (READY); FAILED → FAILED_DISK_ERASING."""
    erased = Node(region, commissioning_node(region, admin)["system_id"])
    force_status(region, erased.system_id, DISK_ERASING)
    assert erased.signal("WORKING").status_code == 200
    assert read_node(admin, erased.system_id)["substatus"] == DISK_ERASING
    assert erased.signal("OK").status_code == 200
    after = read_node(admin, erased.system_id)
    assert (after["substatus"], after["owner"]) == (READY, None)

    failed = Node(region, commissioning_node(region, admin)["system_id"])
    force_status(region, failed.system_id, DISK_ERASING)
    assert failed.signal("FAILED").status_code == 200
    assert read_node(admin, failed.system_id)["substatus"] == FAILED_DISK_ERASING


def test_node_secrets_never_reach_the_log(region: RegionProcess, node: Node) -> None:
    """Serving preseeds, user-data and signals logs no token secret."""
    node.get("latest/user-data")
    node.signal("WORKING", {"10-x.out": b"x"})
    assert node.datasource["token_secret"] not in region.log_text()
