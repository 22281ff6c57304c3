"""The pure parts of what the region does for clusters: paging, boot purpose, sources."""

from __future__ import annotations

import secrets
from typing import Any

from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from region.domain.lifecycle import NodeStatus
from region.rpc.clusterops import _NODES_ARGUMENT, boot_purpose, boot_sources, page_of
from rpc.arguments import MAX_VALUE_LENGTH, encoded_size
from rpc.commands.region import ListNodePowerParameters
from rpc.testing import call_responder
from tests.unit.region.rpc.test_power import make_node


def entry(number: int, **context: Any) -> dict[str, Any]:
    return {"system_id": f"node-{number:05d}", "hostname": f"host-{number}",
            "power_state": "unknown", "power_type": "ipmi",
            "context": {"power_address": f"10.0.{number // 250}.{number % 250}",
                        "power_user": "admin", "power_pass": secrets.token_hex(8), **context}}


class TestPaging(SynchronousTestCase):
    def test_a_long_list_is_cut_to_fit_one_amp_value(self) -> None:
        """2,000 due nodes: the answer is the longest prefix that fits 64 KiB."""
        entries = [entry(n) for n in range(2000)]
        page, too_large = page_of(entries)
        self.assertEqual(too_large, [])
        self.assertGreater(len(page), 100)
        self.assertLess(len(page), 2000)
        self.assertEqual(page, entries[:len(page)])
        self.assertLessEqual(encoded_size(_NODES_ARGUMENT, page), MAX_VALUE_LENGTH)
        self.assertGreater(encoded_size(_NODES_ARGUMENT, entries[:len(page) + 1]),
                           MAX_VALUE_LENGTH)

    def test_a_page_goes_through_the_wire_format(self) -> None:
        """A full page is a valid ListNodePowerParameters answer."""
        page, _ = page_of([entry(n) for n in range(2000)])

        class Locator(amp.CommandLocator):
            @ListNodePowerParameters.responder
            def answer(self, uuid: str) -> dict[str, Any]:
                return {"nodes": page}

        answer = self.successResultOf(call_responder(Locator(), ListNodePowerParameters,
                                                     {"uuid": "c-1"}))
        self.assertEqual(answer["nodes"], page)

    def test_a_node_too_large_to_send_is_skipped_not_blocking(self) -> None:
        """A node whose parameters alone exceed 64 KiB is reported and the rest still go."""
        huge = entry(1, blob=secrets.token_hex(70_000))
        page, too_large = page_of([huge, entry(2), entry(3)])
        self.assertEqual(too_large, ["node-00001"])
        self.assertEqual([e["system_id"] for e in page], ["node-00002", "node-00003"])


class TestBootPurpose(SynchronousTestCase):
    def test_purposes_follow_18(self) -> None:
        """Commissioning/erasing boot the commissioning image; deploying installs; else off."""
        cases = [
            (dict(status=NodeStatus.COMMISSIONING), "commissioning"),
            (dict(status=NodeStatus.DISK_ERASING), "commissioning"),
            (dict(status=NodeStatus.DEPLOYING), "xinstall"),
            (dict(status=NodeStatus.DEPLOYING, boot_type="di"), "install"),
            (dict(status=NodeStatus.DEPLOYING, netboot=False), "local"),
            (dict(status=NodeStatus.DEPLOYED), "local"),
            (dict(status=NodeStatus.READY), "poweroff"),
            (dict(status=NodeStatus.NEW), "poweroff"),
        ]
        for fields, purpose in cases:
            fields["status"] = int(fields["status"])
            self.assertEqual(boot_purpose(make_node(**fields)), purpose, fields)


def test_boot_sources_point_at_the_regions_mirror() -> None:
    """GetBootSources(V2): the region's images-stream index, no keyring, no selections."""
    sources = boot_sources("http://10.0.0.1:5240/MAAS/", with_os=True)
    assert sources == [{"url": "http://10.0.0.1:5240/MAAS/images-stream/streams/v1/index.json",
                        "keyring_data": b"", "selections": []}]
