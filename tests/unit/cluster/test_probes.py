"""cluster.probes: probing chassis and hypervisors with fake listings and a fake region."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lxml import etree
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from cluster.probes import (
    ESXI_PROTOCOL,
    PROBE_DEADLINE,
    FoundMachine,
    ProbeRefused,
    ProbeReport,
    ProbeRequest,
    ProbeService,
    VirshBootOrder,
    check_request,
    find_ip_via_arp,
    host_name,
    network_first,
    read_arp_cache,
    select,
)
from power.errors import PowerAuthError
from power.mscm import MSCMNode
from power.msftocs import Blade
from power.process import ProcessResult
from power.sm15k import SM15KServer
from power.ucsm import UCSMServer
from power.virsh import VirshMachine
from power.vmware import VMwareMachine
from rpc.commands.region import CommissionNode, CreateNode
from rpc.errors import CommissionNodeFailed, NodeAlreadyExists, NoIPFoundForMACAddress
from tests.unit.cluster.helpers import FakeRegionClient

UUID = "cluster-probe"
PASSWORD = "pr0be-s3cret"


def domain(name: str, mac: str, arch: str = "x86_64") -> VirshMachine:
    architecture = {"x86_64": "amd64/generic", "aarch64": "arm64/generic"}[arch]
    return VirshMachine(name=name, uuid=f"uuid-{name}", macs=(mac,), arch=arch,
                        architecture=architecture, power_state="off")


DOMAINS = [domain("vm-1", "52:54:00:00:00:01"), domain("vm-2", "52:54:00:00:00:02"),
           domain("other", "52:54:00:00:00:03", "aarch64")]


def virsh_request(**overrides: Any) -> ProbeRequest:
    values: dict[str, Any] = {"model": "virsh", "user": "admin",
                              "address": "qemu+ssh://root@kvm1/system", "password": PASSWORD}
    values.update(overrides)
    return ProbeRequest(**values)


class FakeRegion(FakeRegionClient):
    """CreateNode and CommissionNode as the region answers them (MACs must be new)."""

    def __init__(self) -> None:
        super().__init__()
        self.known_macs: set[str] = set()
        self.taken_hostnames: set[str] = set()
        self.created = 0

    async def call(self, command: type[amp.Command], *,
                   timeout: float | None = None,  # noqa: ASYNC109
                   **kwargs: Any) -> dict[str, Any]:
        assert timeout is not None and timeout > 0
        command(**kwargs)  # the arguments fit the command's schema
        return await super().call(command, timeout=timeout, **kwargs)

    def answer(self, command: type[amp.Command], kwargs: dict[str, Any]) -> dict[str, Any]:
        if command is CreateNode:
            taken = sorted(set(kwargs["mac_addresses"]) & self.known_macs)
            if taken:
                raise NodeAlreadyExists(f"Node with MAC address(es) {', '.join(taken)} "
                                        "already exists.")
            if kwargs.get("hostname") in self.taken_hostnames:
                raise amp.UnknownRemoteError(
                    f"Code<InvalidArgument>: hostname: Node with FQDN "
                    f"'{kwargs['hostname']}.maas' already exists.")
            self.known_macs.update(kwargs["mac_addresses"])
            self.created += 1
            return {"system_id": f"node-{self.created}"}
        if command is CommissionNode:
            return {}
        raise AssertionError(f"unexpected {command.__name__}")


class ListerFake:
    """Answers each model's listing with canned driver records (or a held Deferred)."""

    def __init__(self, records: list[Any] | None = None) -> None:
        self.records = records if records is not None else list(DOMAINS)
        self.requests: list[ProbeRequest] = []
        self.held: list[Deferred[list[Any]]] = []
        self.hold = False
        self.error: Exception | None = None

    def __call__(self, request: ProbeRequest) -> Deferred[list[Any]]:
        self.requests.append(request)
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.hold:
            waiting: Deferred[list[Any]] = Deferred()
            self.held.append(waiting)
            return waiting
        return succeed(list(self.records))


class ProbeTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.region = FakeRegion()
        self.lister = ListerFake()
        self.booted: list[str] = []
        self.arp = {"00:11:22:33:44:55": "10.0.0.50"}
        self.service = ProbeService(self.clock, self.region, UUID, self.lister,
                                    boot_order=self.boot_order, arp_cache=lambda: self.arp)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    async def boot_order(self, request: ProbeRequest, machine: FoundMachine) -> str:
        self.booted.append(machine.name)
        return "set to boot from the network first" if request.model == "virsh" else ""

    def probe(self, request: ProbeRequest) -> ProbeReport:
        report: ProbeReport = self.successResultOf(self.service.start(request))
        return report

    def log_text(self) -> str:
        return "\n".join(formatEvent(event) for event in self.events)

    def tearDown(self) -> None:
        self.assertNotIn(PASSWORD, self.log_text())
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class TestVirsh(ProbeTestCase):
    def test_each_domain_becomes_a_node(self) -> None:
        """Three domains: three CreateNode calls with the cluster, architecture, virsh
        power parameters (address, domain, password), MAC and hostname; no commissioning
        without accept_all."""
        report = self.probe(virsh_request())
        created = self.region.named("CreateNode")
        self.assertEqual(len(created), 3)
        first = created[0]
        self.assertEqual(
            {k: v for k, v in first.items() if k != "power_parameters"},
            {"cluster_uuid": UUID, "architecture": "amd64/generic", "power_type": "virsh",
             "mac_addresses": ["52:54:00:00:00:01"], "hostname": "vm-1"})
        self.assertEqual(json.loads(first["power_parameters"]),
                         {"power_address": "qemu+ssh://root@kvm1/system", "power_id": "vm-1",
                          "power_pass": PASSWORD})
        self.assertEqual(created[2]["architecture"], "arm64/generic")
        self.assertEqual(report.enlisted, ["node-1", "node-2", "node-3"])
        self.assertEqual((report.found, report.skipped, report.failed, report.error),
                         (3, [], [], None))
        self.assertEqual(self.region.named("CommissionNode"), [])
        self.assertEqual(self.booted, ["vm-1", "vm-2", "other"])
        text = self.log_text()
        self.assertIn("Enlisted domain vm-1 of libvirt host qemu+ssh://root@kvm1/system "
                      "(52:54:00:00:00:01, amd64/generic) as node-1", text)
        self.assertIn("found 3, enlisted 3, already known 0, failed 0", text)

    def test_accept_all_commissions_every_new_node_for_the_user(self) -> None:
        """accept_all: CommissionNode(system_id, user) for each node created, after all
        of them are created."""
        report = self.probe(virsh_request(accept_all=True, user="carol"))
        names = [name for name, _ in self.region.calls]
        self.assertEqual(names, ["CreateNode"] * 3 + ["CommissionNode"] * 3)
        self.assertEqual(self.region.named("CommissionNode"),
                         [{"system_id": f"node-{i}", "user": "carol"} for i in (1, 2, 3)])
        self.assertEqual(report.commissioned, ["node-1", "node-2", "node-3"])

    def test_known_macs_are_skipped_and_logged(self) -> None:
        """A machine whose MAC the region knows (NodeAlreadyExists) is skipped and logged;
        the others are enlisted and only they are commissioned."""
        self.region.known_macs.add("52:54:00:00:00:02")
        report = self.probe(virsh_request(accept_all=True))
        self.assertEqual(report.enlisted, ["node-1", "node-2"])
        self.assertEqual(report.skipped, ["domain vm-2"])
        self.assertEqual([c["system_id"] for c in self.region.named("CommissionNode")],
                         ["node-1", "node-2"])
        self.assertEqual(self.booted, ["vm-1", "other"])
        self.assertIn("Skipped domain vm-2 of libvirt host", self.log_text())
        self.assertIn("already known 1", self.log_text())

    def test_a_second_probe_enlists_nothing_twice(self) -> None:
        """Probing the same host again creates no node: every MAC is known."""
        self.probe(virsh_request())
        again = self.probe(virsh_request(accept_all=True))
        self.assertEqual((again.enlisted, len(again.skipped)), ([], 3))
        self.assertEqual(self.region.created, 3)
        self.assertEqual(self.region.named("CommissionNode"), [])

    def test_prefix_filter_keeps_matching_names(self) -> None:
        """prefix_filter: only domains whose name starts with it are enlisted."""
        report = self.probe(virsh_request(prefix_filter="vm-"))
        self.assertEqual([c["hostname"] for c in self.region.named("CreateNode")],
                         ["vm-1", "vm-2"])
        self.assertEqual(report.found, 2)

    def test_machines_without_macs_are_left_out(self) -> None:
        """A domain without a network interface cannot be enlisted: said, not sent."""
        self.lister.records = [*DOMAINS[:1], VirshMachine("bare", "u", (), "x86_64",
                                                          "amd64/generic", "off")]
        report = self.probe(virsh_request())
        self.assertEqual(len(self.region.named("CreateNode")), 1)
        self.assertEqual(report.failed, [("domain bare", "it has no MAC address")])
        self.assertIn("Not enlisting domain bare", self.log_text())

    def test_a_refused_hostname_falls_back_to_a_generated_one(self) -> None:
        """When the region refuses the domain's name as hostname (taken), the node is
        enlisted again without one (the region generates a name)."""
        self.region.taken_hostnames.add("vm-2")
        report = self.probe(virsh_request())
        second = [c for c in self.region.named("CreateNode")
                  if c["mac_addresses"] == ["52:54:00:00:00:02"]]
        self.assertEqual([c.get("hostname") for c in second], ["vm-2", None])
        self.assertEqual(len(report.enlisted), 3)
        self.assertIn("enlisting it under a generated name", self.log_text())

    def test_other_region_refusals_are_logged_and_the_rest_goes_on(self) -> None:
        """Any other refusal of CreateNode is logged for that machine; the probe goes on."""
        self.region.errors["CreateNode"].append(amp.UnknownRemoteError(
            f"Code<InvalidArgument>: architecture: 'amd64/generic' rejected {PASSWORD}"))
        report = self.probe(virsh_request(accept_all=True))
        self.assertEqual(report.enlisted, ["node-1", "node-2"])
        self.assertEqual(report.failed[0][0], "domain vm-1")
        self.assertIn("Could not enlist domain vm-1", self.log_text())
        self.assertIn("********", self.log_text())  # the password scrubbed from the reason

    def test_commissioning_failures_are_logged(self) -> None:
        """CommissionNodeFailed for one node is logged; the others are commissioned."""
        self.region.errors["CommissionNode"].append(CommissionNodeFailed("No active user"))
        report = self.probe(virsh_request(accept_all=True))
        self.assertEqual(report.commissioned, ["node-2", "node-3"])
        self.assertIn("Could not commission node-1 (domain vm-1): No active user",
                      self.log_text())


class TestModels(ProbeTestCase):
    def created(self, request: ProbeRequest, records: list[Any]) -> list[dict[str, Any]]:
        self.lister.records = records
        self.probe(request)
        calls = self.region.named("CreateNode")
        for call in calls:
            call["power_parameters"] = json.loads(call["power_parameters"])
        return calls

    def test_vmware(self) -> None:
        """VMware VMs: vmware nodes named after the VM, with name, UUID, host, port and
        protocol; the guest's architecture."""
        [call] = self.created(
            ProbeRequest("vmware", "admin", "vc.example.com", username="vcuser",
                         password=PASSWORD, port="8443", protocol="https"),
            [VMwareMachine("Web 1", "4223-ab", ("00:50:56:aa:bb:01",), "i386/generic", "on")])
        self.assertEqual(call["power_type"], "vmware")
        self.assertEqual((call["architecture"], call["hostname"]), ("i386/generic", "web-1"))
        self.assertEqual(call["power_parameters"], {
            "power_vm_name": "Web 1", "power_uuid": "4223-ab",
            "power_address": "vc.example.com", "power_user": "vcuser", "power_pass": PASSWORD,
            "power_port": "8443", "power_protocol": "https"})

    def test_esxi_goes_through_vsphere_without_certificate_checks(self) -> None:
        """ESXi VMs are vmware nodes on the host's vSphere API, https+unverified."""
        [call] = self.created(
            ProbeRequest("esxi", "admin", "esx1", username="root", password=PASSWORD),
            [VMwareMachine("db", "42-1", ("00:50:56:aa:bb:02",), "amd64/generic", "off")])
        self.assertEqual(call["power_type"], "vmware")
        self.assertEqual(call["power_parameters"]["power_protocol"], ESXI_PROTOCOL)
        self.assertEqual(call["power_parameters"]["power_user"], "root")
        self.assertEqual(self.lister.requests[0].address, "esx1")

    def test_seamicro_finds_the_chassis_by_its_mac(self) -> None:
        """SeaMicro: the chassis' IP comes from the ARP cache; each server card is an
        sm15k node (system_id = card, power_control ipmi by default), no hostname."""
        calls = self.created(
            ProbeRequest("seamicro15k", "admin", "", username="admin", password=PASSWORD,
                         mac="00:11:22:33:44:55"),
            [SM15KServer("0", ("00:21:53:00:00:01",)), SM15KServer("5", ("00:21:53:00:00:05",
                                                                        "00:21:53:00:00:06"))])
        self.assertEqual(self.lister.requests[0].address, "10.0.0.50")
        self.assertEqual(calls[1]["power_parameters"], {
            "system_id": "5", "power_address": "10.0.0.50", "power_user": "admin",
            "power_pass": PASSWORD, "power_control": "ipmi"})
        self.assertEqual(calls[1]["mac_addresses"], ["00:21:53:00:00:05", "00:21:53:00:00:06"])
        self.assertEqual([c.get("hostname") for c in calls], [None, None])
        self.assertEqual(calls[0]["power_type"], "sm15k")

    def test_seamicro_without_arp_entry_is_refused_at_once(self) -> None:
        """No ARP entry for the chassis' MAC: NoIPFoundForMACAddress, nothing starts."""
        self.assertRaises(NoIPFoundForMACAddress, self.service.start, ProbeRequest(
            "seamicro15k", "admin", "", username="a", password=PASSWORD,
            mac="00:11:22:33:44:99"))
        self.assertEqual(self.lister.requests, [])

    def test_mscm(self) -> None:
        """Moonshot: mscm nodes with node_id and the cartridge's architecture."""
        [call] = self.created(
            ProbeRequest("mscm", "admin", "10.1.1.1", username="Administrator",
                         password=PASSWORD),
            [MSCMNode("c2n1", ("a0:1d:48:b5:05:34",), "ProLiant m400 Server Cartridge",
                      "arm64/xgene-uboot")])
        self.assertEqual((call["power_type"], call["architecture"]),
                         ("mscm", "arm64/xgene-uboot"))
        self.assertEqual(call["power_parameters"], {
            "power_address": "10.1.1.1", "power_user": "Administrator",
            "power_pass": PASSWORD, "node_id": "c2n1"})
        self.assertNotIn("hostname", call)

    def test_ucsm(self) -> None:
        """UCS: ucsm nodes with the server's UUID and the manager's URL."""
        [call] = self.created(
            ProbeRequest("ucsm", "admin", "https://ucs.example.com/", username="ucs",
                         password=PASSWORD),
            [UCSMServer("sys/chassis-1/blade-1", "1b4e28ba", ("00:25:b5:00:00:01",),
                        "org-root/ls-1")])
        self.assertEqual(call["power_type"], "ucsm")
        self.assertEqual(call["power_parameters"], {
            "uuid": "1b4e28ba", "power_address": "https://ucs.example.com/",
            "power_user": "ucs", "power_pass": PASSWORD})

    def test_msftocs(self) -> None:
        """OCS: msftocs nodes with address, port and blade_id."""
        [call] = self.created(
            ProbeRequest("msftocs", "admin", "10.2.2.2", username="cm", password=PASSWORD,
                         port="8000"),
            [Blade("7", "BLADE7", ("f4:52:14:d6:70:98",))])
        self.assertEqual(call["power_type"], "msftocs")
        self.assertEqual(call["power_parameters"], {
            "power_address": "10.2.2.2", "power_port": "8000", "power_user": "cm",
            "power_pass": PASSWORD, "blade_id": "7"})

    def test_prefix_filter_is_only_for_named_machines(self) -> None:
        """prefix_filter applies to VM names; a chassis model ignores it."""
        request = ProbeRequest("mscm", "a", "h", prefix_filter="zzz")
        chosen, _ = select(request, [MSCMNode("c1n1", ("a0:1d:48:b5:04:34",), "", "amd64/generic")])
        self.assertEqual(len(chosen), 1)


class TestFailuresAndLimits(ProbeTestCase):
    def test_a_listing_failure_is_logged_without_the_password(self) -> None:
        """The device refuses the credentials: nothing is enlisted, the probe's log says
        why, without the password."""
        self.lister.error = PowerAuthError(f"bad login with {PASSWORD}")
        report = self.probe(virsh_request())
        self.assertEqual(report.enlisted, [])
        self.assertIn("could not list its machines: bad login with ********", report.error)
        self.assertIn("Probe of libvirt host qemu+ssh://root@kvm1/system could not list",
                      self.log_text())

    def test_the_probe_has_a_deadline(self) -> None:
        """A device that never answers: the probe stops at its deadline, says so, and the
        listing is cancelled."""
        self.lister.hold = True
        job = self.service.start(virsh_request())
        self.assertNoResult(job)
        self.clock.advance(PROBE_DEADLINE)
        report = self.successResultOf(job)
        self.assertIn("deadline", report.error)
        self.assertTrue(self.lister.held[0].called)  # cancelled
        self.assertEqual(self.service.jobs, set())

    def test_losing_the_region_stops_the_probe(self) -> None:
        """No connection to the region left: the probe stops instead of failing each
        machine in turn."""
        self.region.accepted = False
        report = self.probe(virsh_request())
        self.assertIn("no connection to the region", report.error)
        self.assertEqual(report.enlisted, [])

    def test_one_device_is_probed_once_at_a_time(self) -> None:
        """Two requests for the same device run one after the other; another device's
        probe runs meanwhile."""
        self.lister.hold = True
        first = self.service.start(virsh_request())
        second = self.service.start(virsh_request(accept_all=True))
        other = self.service.start(virsh_request(address="qemu+ssh://root@kvm2/system"))
        self.assertEqual(len(self.lister.requests), 2)  # the second waits
        self.lister.held[0].callback(list(DOMAINS))
        self.assertEqual(len(self.successResultOf(first).enlisted), 3)
        self.assertEqual(len(self.lister.requests), 3)
        self.lister.held[2].callback(list(DOMAINS))
        self.assertEqual(len(self.successResultOf(second).skipped), 3)
        self.lister.held[1].callback([])
        self.assertEqual(self.successResultOf(other).found, 0)
        self.assertEqual(self.service._locks, {})

    def test_stopping_the_service_cancels_running_probes(self) -> None:
        """stopService cancels the probes in flight."""
        self.service.startService()
        self.lister.hold = True
        job = self.service.start(virsh_request())
        self.service.stopService()
        self.assertEqual(self.successResultOf(job).error, "stopped")
        self.assertEqual(self.service.jobs, set())

    def test_a_region_call_that_hangs_is_bounded(self) -> None:
        """CreateNode is called with a timeout and the probe's deadline bounds the rest."""
        self.region.holds["CreateNode"] = Deferred()
        job = self.service.start(virsh_request())
        self.clock.advance(PROBE_DEADLINE)
        self.assertIn("deadline", self.successResultOf(job).error)


class TestRequests(SynchronousTestCase):
    def test_bad_requests_are_refused_before_anything_starts(self) -> None:
        """Unknown models and malformed addresses: ProbeRefused saying why."""
        for request, words in [
            (ProbeRequest("powerkvm2", "a", "x"), "Unknown hardware model"),
            (virsh_request(address="qemu:///system?command=x"), "command"),
            (virsh_request(address="qemu+ssh://u:pw@h/system"), "password"),
            (ProbeRequest("mscm", "a", "bad host!"), "Bad chassis address"),
            (ProbeRequest("msftocs", "a", "10.0.0.1", port="99999"), "port"),
            (ProbeRequest("ucsm", "a", "ftp://ucs/"), "http"),
            (ProbeRequest("vmware", "a", "vc", protocol="gopher"), "power_protocol"),
            (ProbeRequest("seamicro15k", "a", "10.0.0.1", power_control="x"), "power_control"),
        ]:
            with self.subTest(request=request):
                error = self.assertRaises(ProbeRefused, check_request, request)
                self.assertIn(words, str(error))

    def test_the_password_is_never_shown(self) -> None:
        """A request's repr and description leave the password out, even from a URL."""
        request = ProbeRequest("ucsm", "a", f"https://admin:{PASSWORD}@ucs/",
                               password=PASSWORD)
        self.assertNotIn(PASSWORD, repr(request))
        self.assertEqual(request.describe(), "UCS Manager https://admin@ucs/")
        found = FoundMachine("x", "amd64/generic", (), "ucsm", {"power_pass": PASSWORD})
        self.assertNotIn(PASSWORD, repr(found))

    def test_host_names(self) -> None:
        """VM names become valid host name labels, or nothing."""
        self.assertEqual(host_name("Web_Server 01"), "web-server-01")
        self.assertEqual(host_name("---"), None)
        self.assertEqual(host_name("a" * 80), "a" * 63)

    def test_arp_cache(self) -> None:
        """The kernel's ARP table: complete entries by normalised MAC."""
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = Path(directory) / "arp"
        path.write_text(
            "IP address       HW type     Flags       HW address            Mask     Device\n"
            "10.0.0.50        0x1         0x2         00:11:22:33:44:55     *        eth0\n"
            "10.0.0.51        0x1         0x0         00:11:22:33:44:66     *        eth0\n")
        cache = read_arp_cache(str(path))
        self.assertEqual(cache, {"00:11:22:33:44:55": "10.0.0.50"})
        self.assertEqual(find_ip_via_arp("00-11-22-33-44-55", lambda: cache), "10.0.0.50")
        self.assertRaises(NoIPFoundForMACAddress, find_ip_via_arp, "00:11:22:33:44:66",
                          lambda: cache)
        self.assertRaises(NoIPFoundForMACAddress, find_ip_via_arp, "nonsense", lambda: cache)
        self.assertEqual(read_arp_cache(str(path) + ".missing"), {})


XML = """<domain type='kvm'>
  <name>vm</name>
  <os>
    <type arch='x86_64'>hvm</type>
    {boots}
  </os>
  <devices>
    <interface type='network'><mac address='52:54:00:00:00:01'/>{device_boot}</interface>
  </devices>
</domain>"""


def boots(xml: str | None) -> list[str]:
    assert xml is not None
    return [b.get("dev") for b in etree.fromstring(xml.encode()).findall("os/boot")]


class TestNetworkFirst(SynchronousTestCase):
    def test_network_goes_first(self) -> None:
        """No boot device: network then hd; hd and cdrom: network, hd, cdrom."""
        self.assertEqual(boots(network_first(XML.format(boots="", device_boot=""))[0]),
                         ["network", "hd"])
        changed, _ = network_first(XML.format(
            boots="<boot dev='hd'/><boot dev='network'/><boot dev='cdrom'/>", device_boot=""))
        self.assertEqual(boots(changed), ["network", "hd", "cdrom"])
        self.assertIn("<name>vm</name>", changed or "")

    def test_left_alone_when_not_safe_or_not_needed(self) -> None:
        """Already network first, per-device boot order, direct kernel boot, non-hvm: no
        change, and why."""
        cases = [
            (XML.format(boots="<boot dev='network'/>", device_boot=""), "already"),
            (XML.format(boots="", device_boot="<boot order='1'/>"), "per device"),
            (XML.format(boots="<kernel>/boot/vmlinuz</kernel>", device_boot=""), "kernel"),
            (XML.replace("hvm", "exe").format(boots="", device_boot=""), "hvm"),
            ("<domain", "parse"),
        ]
        for xml, words in cases:
            with self.subTest(words=words):
                changed, reason = network_first(xml)
                self.assertIsNone(changed)
                self.assertIn(words, reason)


def read(path: str) -> str:
    return Path(path).read_text()


class FakeVirsh:
    """A virsh runner: answers dominfo and dumpxml, records the XML it is asked to define."""

    def __init__(self, persistent: str = "yes", xml: str = "") -> None:
        self.persistent = persistent
        self.xml = xml or XML.format(boots="<boot dev='hd'/>", device_boot="")
        self.argvs: list[list[str]] = []
        self.defined: list[str] = []
        self.fail_define = False

    async def __call__(self, reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        self.argvs.append(list(argv))
        command = argv[4]
        if command == "dominfo":
            out = f"Name:           vm\nPersistent:     {self.persistent}\n"
        elif command == "dumpxml":
            out = self.xml
        elif command == "define":
            if self.fail_define:
                return ProcessResult(1, None, b"", b"error: failed to connect: refused\n")
            self.defined.append(read(argv[-1]))
            out = "Domain 'vm' defined\n"
        else:
            raise AssertionError(argv)
        return ProcessResult(0, None, out.encode(), b"")


class TestVirshBootOrder(SynchronousTestCase):
    def boot(self, runner: FakeVirsh, request: ProbeRequest | None = None) -> str:
        setter = VirshBootOrder(Clock(), virsh="/usr/bin/virsh", runner=runner,
                                tempdir=self.mktemp_dir())
        machine = FoundMachine("domain vm", "amd64/generic", ("52:54:00:00:00:01",), "virsh",
                               {}, "vm")
        result: str = self.successResultOf(Deferred.fromCoroutine(
            setter(request or virsh_request(address="qemu:///system"), machine)))
        return result

    def mktemp_dir(self) -> str:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        return directory

    def test_redefines_a_persistent_domain_network_first(self) -> None:
        """dominfo, dumpxml --inactive --security-info, define of the changed XML
        (argv only; the temporary file is gone afterwards)."""
        runner = FakeVirsh()
        self.assertEqual(self.boot(runner), "set to boot from the network first")
        self.assertEqual([argv[1:] for argv in runner.argvs[:2]], [
            ["--quiet", "-c", "qemu:///system", "dominfo", "--", "vm"],
            ["--quiet", "-c", "qemu:///system", "dumpxml", "--inactive", "--security-info",
             "--", "vm"]])
        [defined] = runner.defined
        self.assertEqual(boots(defined), ["network", "hd"])
        self.assertFalse(Path(runner.argvs[2][-1]).exists())

    def test_transient_and_secret_holding_domains_are_left_alone(self) -> None:
        """A transient domain, or one whose XML holds the probe's password (scrubbing it
        would corrupt the definition), is not redefined."""
        transient = FakeVirsh(persistent="no")
        self.assertIn("transient", self.boot(transient))
        secret = FakeVirsh(xml=XML.format(boots="", device_boot="").replace(
            "<devices>", f"<devices><graphics type='vnc' passwd='{PASSWORD}'/>"))
        self.assertIn("holds a password", self.boot(
            secret, virsh_request(address="qemu:///system")))
        self.assertEqual(transient.defined + secret.defined, [])

    def test_other_models_are_not_touched(self) -> None:
        """Only libvirt domains get a boot order."""
        runner = FakeVirsh()
        self.assertEqual(self.boot(runner, ProbeRequest("mscm", "a", "h")), "")
        self.assertEqual(runner.argvs, [])

    def test_a_virsh_failure_is_logged_and_the_node_stays_enlisted(self) -> None:
        """If define fails, the probe logs it (without the password) and goes on."""
        runner = FakeVirsh()
        runner.fail_define = True
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        region, clock = FakeRegion(), Clock()
        service = ProbeService(clock, region, UUID, ListerFake([DOMAINS[0]]),
                               boot_order=VirshBootOrder(clock, virsh="/usr/bin/virsh",
                                                         runner=runner,
                                                         tempdir=self.mktemp_dir()))
        report = self.successResultOf(service.start(virsh_request(address="qemu:///system")))
        self.assertEqual(report.enlisted, ["node-1"])
        text = "\n".join(formatEvent(event) for event in events)
        self.assertIn("Could not make domain vm-1 (node-1) boot from the network", text)
        self.assertNotIn(PASSWORD, text)
