"""
Worst-case payloads against AMP's 64 KiB value limit.

- UpdateLeases with 2,000 leases FITS: CompressedAmpList makes it so, even
  with random IPv6 addresses and random MACs (the least compressible case).
  Ten times as many is refused, clearly, before anything is written.
- ListNodePowerParameters with 5,000 nodes does NOT fit and is REFUSED (a
  referenced error; the connection stays up).  The region must page it, as
  1.8 does: fitting_prefix gives the longest prefix that fits, the cluster
  asks again until the list is empty.
- DescribePowerTypes for all 13 power types fits.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from rpc.arguments import MAX_VALUE_LENGTH, fitting_prefix
from rpc.commands.cluster import DescribePowerTypes
from rpc.commands.region import ListNodePowerParameters, UpdateLeases
from rpc.errors import PayloadTooLarge
from rpc.protocol import RPCProtocol
from rpc.testing import authenticated_pair, call_responder

SECRET = b"0123456789abcdef"


def random_leases(count: int, seed: int = 1) -> list[dict[str, str]]:
    """Leases with random IPv6 addresses in a /64 and random MACs."""
    rng = random.Random(seed)
    network = int(ipaddress.IPv6Address("fd00:1234:5678:9abc::"))
    return [
        {
            "ip": str(ipaddress.IPv6Address(network + rng.getrandbits(64))),
            "mac": ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6)),
        }
        for _ in range(count)
    ]


def power_nodes(count: int, seed: int = 2) -> list[dict[str, Any]]:
    """Nodes as the region returns them: the effective IPMI parameters of 1.8 (§7.2)."""
    rng = random.Random(seed)
    nodes = []
    for n in range(count):
        system_id = f"node-{rng.getrandbits(128):032x}"
        mac = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6))
        nodes.append({
            "system_id": system_id,
            "hostname": f"machine-{n:05d}.maas",
            "power_state": rng.choice(["on", "off", "unknown", "error"]),
            "power_type": "ipmi",
            "context": {
                "system_id": system_id, "power_address": f"10.1.{n // 250}.{n % 250}",
                "power_user": "ADMIN", "power_pass": f"{rng.getrandbits(64):016x}",
                "power_driver": "LAN_2_0", "mac_address": mac, "power_id": system_id,
                "ipmipower": "/usr/sbin/ipmipower", "ipmitool": "/usr/bin/ipmitool",
                "ipmi_chassis_config": "/usr/sbin/ipmi-chassis-config",
                "ipmi_config": "ipmi.conf", "power_off_mode": "", "username": "",
                "boot_mode": "pxe", "fence_cdu": "/usr/sbin/fence_cdu",
            },
        })
    return nodes


class Region(RPCProtocol):
    def __init__(self, nodes: list[dict[str, Any]] | None = None) -> None:
        super().__init__(ident="region", secret=SECRET, name="region-host:pid=5")
        self.nodes = nodes or []
        self.leases: list[dict[str, str]] = []

    @UpdateLeases.responder
    def update_leases(self, uuid: str, mappings: list[dict[str, str]]) -> dict[str, Any]:
        self.leases = mappings
        return {}

    @ListNodePowerParameters.responder
    def list_nodes(self, uuid: str) -> dict[str, Any]:
        return {"nodes": self.nodes}


class TestLeases(SynchronousTestCase):
    def test_2000_leases_fit(self) -> None:
        """2,000 random IPv6 leases compress to well under 64 KiB and arrive intact."""
        leases = random_leases(2000)
        box = UpdateLeases.makeArguments({"uuid": "c0ffee", "mappings": leases}, None)
        size = len(box[b"mappings"])
        self.assertLess(size, MAX_VALUE_LENGTH, f"2,000 leases take {size:,} bytes")
        region = Region()
        region.authentication_finished(True)  # call_responder goes through the gate
        d = call_responder(region, UpdateLeases, {"uuid": "c", "mappings": leases})
        self.successResultOf(d)
        self.assertEqual(region.leases, leases)

    def test_20000_leases_are_refused_clearly(self) -> None:
        """Far past the limit the call fails with PayloadTooLarge naming `mappings`."""
        cluster, _region, _pump = authenticated_pair(Region, lambda: Region(), SECRET)
        d = cluster.callRemote(UpdateLeases, uuid="c", mappings=random_leases(20_000))
        error = self.failureResultOf(d, PayloadTooLarge).value
        self.assertEqual(error.name, "mappings")
        self.assertGreater(error.size, MAX_VALUE_LENGTH)
        self.assertFalse(cluster.transport.disconnecting)


class TestNodePowerParameters(SynchronousTestCase):
    def test_5000_nodes_do_not_fit_and_are_refused(self) -> None:
        """A region answering 5,000 nodes at once sends a referenced error, not a broken stream."""
        nodes = power_nodes(5000)
        cluster, _region, pump = authenticated_pair(lambda: Region(nodes), lambda: Region(), SECRET)
        d = cluster.callRemote(ListNodePowerParameters, uuid="c0ffee")
        pump.flush()
        failure = self.failureResultOf(d, amp.UnknownRemoteError)
        self.assertIn("PayloadTooLarge", failure.value.description)
        self.assertIn("region-host:pid=5:cmd=ListNodePowerParameters", failure.value.description)
        self.assertEqual(len(self.flushLoggedErrors(PayloadTooLarge)), 1)
        self.assertFalse(cluster.transport.disconnecting)

    def test_fitting_prefix_pages_5000_nodes(self) -> None:
        """Cut with fitting_prefix, every page fits and the pages cover all 5,000 nodes in order."""
        nodes = power_nodes(5000)
        argument = dict(ListNodePowerParameters.response)[b"nodes"]
        pages: list[list[dict[str, Any]]] = []
        remaining = nodes
        while remaining:
            page = fitting_prefix(argument, remaining)
            self.assertTrue(page, "a single node always fits")
            pages.append(page)
            remaining = remaining[len(page):]
        self.assertGreater(len(pages), 1)
        self.assertEqual([n for page in pages for n in page], nodes)
        cluster, _region, pump = authenticated_pair(
            lambda: Region(pages[0]), lambda: Region(), SECRET
        )
        d = cluster.callRemote(ListNodePowerParameters, uuid="c0ffee")
        pump.flush()
        self.assertEqual(self.successResultOf(d)["nodes"], pages[0])


class TestPowerTypes(SynchronousTestCase):
    def test_thirteen_power_types_fit(self) -> None:
        """DescribePowerTypes: 13 types of up to 7 fields, with choices, as compressed JSON."""
        field = {"name": "power_address", "label": "Power address", "required": False,
                 "field_type": "choice", "default": "LAN_2_0",
                 "choices": [["LAN", "LAN [IPMI 1.5]"], ["LAN_2_0", "LAN_2_0 [IPMI 2.0]"]]}
        types = [{"name": f"type{n}", "description": f"Power type {n}",
                  "fields": [dict(field, name=f"field{f}") for f in range(7)]} for n in range(13)]
        box = DescribePowerTypes.makeResponse({"power_types": types}, None)
        self.assertLess(len(box[b"power_types"]), MAX_VALUE_LENGTH // 10)
