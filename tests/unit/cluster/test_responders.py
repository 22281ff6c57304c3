"""The cluster's responders, each through its command's wire format (call_responder)."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.service import PowerService
from cluster.probes import ProbeRequest, ProbeService
from cluster.rpc.protocol import ClusterClientProtocol
from power.registry import describe_power_types
from rpc.commands.cluster import (
    AddESXi,
    AddSeaMicro15k,
    AddVirsh,
    AddVMware,
    DescribePowerTypes,
    EnlistNodesFromMicrosoftOCS,
    EnlistNodesFromMSCM,
    EnlistNodesFromUCSM,
    GetOSReleaseTitle,
    ImportBootImages,
    IsImportBootImagesRunning,
    ListBootImages,
    ListBootImagesV2,
    ListOperatingSystems,
    ListSupportedArchitectures,
    PowerOff,
    PowerOn,
    PowerQuery,
)
from rpc.commands.common import Identify
from rpc.errors import (
    NoIPFoundForMACAddress,
    NoSuchOperatingSystem,
    NotAuthenticated,
    PowerActionAlreadyInProgress,
    UnknownPowerType,
)
from rpc.testing import call_responder
from tests.unit.cluster.helpers import SECRET, UUID, FakeRegionClient, Runtime
from tests.unit.cluster.test_power_service import PASSWORD, Drivers, context


class ResponderTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.region = FakeRegionClient()
        self.drivers = Drivers(self.clock)
        self.power = PowerService(self.clock, self.region, self.drivers)
        self.protocol = ClusterClientProtocol(Runtime(UUID, self.power), SECRET, self.clock)
        self.protocol.authentication_finished(True)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def call(self, command: type[amp.Command], **arguments: Any) -> dict[str, Any]:
        return self.successResultOf(call_responder(self.protocol, command, arguments))

    def refused(self, command: type[amp.Command], **arguments: Any) -> Any:
        return self.failureResultOf(call_responder(self.protocol, command, arguments))


class TestIdentity(ResponderTestCase):
    def test_identify_answers_the_uuid(self) -> None:
        """Identify: the cluster's uuid."""
        self.assertEqual(self.call(Identify), {"ident": UUID})

    def test_nothing_else_before_the_region_is_authenticated(self) -> None:
        """Until the region proved it knows the secret, other commands are refused."""
        protocol = ClusterClientProtocol(Runtime(UUID, self.power), SECRET, self.clock)
        failure = self.failureResultOf(call_responder(protocol, DescribePowerTypes, {}))
        failure.trap(NotAuthenticated)


class TestPower(ResponderTestCase):
    def power_arguments(self, power_type: str = "ipmi") -> dict[str, Any]:
        return {"system_id": "node-1", "hostname": "h1", "power_type": power_type,
                "context": context()}

    def test_describe_power_types_is_the_registry(self) -> None:
        """DescribePowerTypes: the 13 power types of power.registry, as 1.8 describes them."""
        answer = self.call(DescribePowerTypes)
        self.assertEqual(answer["power_types"], describe_power_types())
        self.assertEqual(len(answer["power_types"]), 13)

    def test_power_on_and_off_start_changes(self) -> None:
        """PowerOn answers at once; the change runs in the power service."""
        self.assertEqual(self.call(PowerOn, **self.power_arguments()), {})
        self.assertEqual(self.power.in_progress("node-1"), "on")
        failure = self.refused(PowerOff, **self.power_arguments())
        failure.trap(PowerActionAlreadyInProgress)

    def test_power_query_answers_the_state(self) -> None:
        """PowerQuery: the driver's answer."""
        self.drivers.driver_for("ipmi").states["node-1"] = "on"
        self.assertEqual(self.call(PowerQuery, **self.power_arguments()), {"state": "on"})

    def test_unknown_power_types_are_typed_errors(self) -> None:
        """No such type: UnknownPowerType; no driver yet: NotImplementedError."""
        self.refused(PowerOn, **self.power_arguments("nonsense")).trap(UnknownPowerType)
        self.refused(PowerQuery, **self.power_arguments("dli")).trap(NotImplementedError)


class TestImages(ResponderTestCase):
    def test_no_boot_images_yet(self) -> None:
        """ListBootImages and ListBootImagesV2 answer an empty list."""
        self.assertEqual(self.call(ListBootImages), {"images": []})
        self.assertEqual(self.call(ListBootImagesV2), {"images": []})

    def test_import_is_refused_with_a_clear_message(self) -> None:
        """ImportBootImages: an error saying the cluster cannot import yet; not running."""
        failure = self.refused(ImportBootImages, sources=[])
        failure.trap(NotImplementedError)  # declared by the command: typed for the region
        self.assertIn("cannot import boot images yet", str(failure.value))
        self.assertEqual(self.call(IsImportBootImagesRunning), {"running": False})
        self.assertEqual(self.flushLoggedErrors(), [])


class TestCatalogue(ResponderTestCase):
    def test_architectures(self) -> None:
        """ListSupportedArchitectures includes amd64/generic and is sorted."""
        names = [a["name"] for a in self.call(ListSupportedArchitectures)["architectures"]]
        self.assertIn("amd64/generic", names)
        self.assertEqual(names, sorted(names))

    def test_operating_systems(self) -> None:
        """ListOperatingSystems: Ubuntu, its releases, trusty by default; LTS commission."""
        [ubuntu] = self.call(ListOperatingSystems)["osystems"]
        self.assertEqual((ubuntu["name"], ubuntu["default_release"],
                          ubuntu["default_commissioning_release"]),
                         ("ubuntu", "trusty", "trusty"))
        releases = {r["name"]: r for r in ubuntu["releases"]}
        self.assertEqual(releases["trusty"]["title"], 'Ubuntu 14.04 LTS "Trusty Tahr"')
        self.assertTrue(releases["trusty"]["can_commission"])
        self.assertFalse(releases["vivid"]["can_commission"])
        self.assertFalse(any(r["requires_license_key"] for r in ubuntu["releases"]))

    def test_release_title(self) -> None:
        """GetOSReleaseTitle answers known releases; NoSuchOperatingSystem otherwise."""
        self.assertEqual(self.call(GetOSReleaseTitle, osystem="ubuntu", release="precise"),
                         {"title": 'Ubuntu 12.04 LTS "Precise Pangolin"'})
        self.refused(GetOSReleaseTitle, osystem="centos", release="7").trap(
            NoSuchOperatingSystem)


@attrs.define
class ProbeRuntime:
    """A ClusterContext with a probe service."""

    uuid: str
    power: Any
    probes: Any


class TestEnlistment(ResponderTestCase):
    PROBES: list[tuple[type[amp.Command], dict[str, Any], ProbeRequest]] = [
        (AddVirsh, {"user": "admin", "poweraddr": "qemu+ssh://h/system", "password": PASSWORD,
                    "prefix_filter": "vm-", "accept_all": True},
         ProbeRequest("virsh", "admin", "qemu+ssh://h/system", password=PASSWORD,
                      prefix_filter="vm-", accept_all=True)),
        (AddESXi, {"user": "admin", "poweruser": "root", "poweraddr": "esxi",
                   "password": PASSWORD, "accept_all": False},
         ProbeRequest("esxi", "admin", "esxi", username="root", password=PASSWORD)),
        (AddSeaMicro15k, {"user": "admin", "mac": "00:11:22:33:44:55", "username": "u",
                          "password": PASSWORD, "power_control": "restapi2"},
         ProbeRequest("seamicro15k", "admin", "10.9.8.7", username="u", password=PASSWORD,
                      mac="00:11:22:33:44:55", power_control="restapi2")),
        (AddVMware, {"user": "admin", "host": "vc", "username": "u", "password": PASSWORD,
                     "port": 8443, "protocol": "https"},
         ProbeRequest("vmware", "admin", "vc", username="u", password=PASSWORD, port="8443",
                      protocol="https")),
        (EnlistNodesFromMSCM, {"user": "admin", "host": "m", "username": "u",
                               "password": PASSWORD, "accept_all": True},
         ProbeRequest("mscm", "admin", "m", username="u", password=PASSWORD, accept_all=True)),
        (EnlistNodesFromUCSM, {"user": "admin", "url": "http://u/", "username": "u",
                               "password": PASSWORD},
         ProbeRequest("ucsm", "admin", "http://u/", username="u", password=PASSWORD)),
        (EnlistNodesFromMicrosoftOCS, {"user": "admin", "ip": "10.0.0.1", "port": "8000",
                                       "username": "u", "password": PASSWORD},
         ProbeRequest("msftocs", "admin", "10.0.0.1", username="u", password=PASSWORD,
                      port="8000")),
    ]

    def setUp(self) -> None:
        super().setUp()
        self.listed: list[ProbeRequest] = []
        self.holds: list[Deferred[list[Any]]] = []

        def lister(request: ProbeRequest) -> Deferred[list[Any]]:
            self.listed.append(request)
            hold: Deferred[list[Any]] = Deferred()
            self.holds.append(hold)
            return hold

        self.probes = ProbeService(self.clock, self.region, UUID, lister,
                                   arp_cache=lambda: {"00:11:22:33:44:55": "10.9.8.7"})
        self.protocol = ClusterClientProtocol(ProbeRuntime(UUID, self.power, self.probes),
                                              SECRET, self.clock)
        self.protocol.authentication_finished(True)

    def test_probes_answer_at_once_and_run_in_the_background(self) -> None:
        """Each enlistment command is answered at once with the probe started in the
        background, its arguments as a ProbeRequest; no password is logged."""
        for command, arguments, _ in self.PROBES:
            self.assertEqual(self.call(command, **arguments), {})
        self.assertEqual(self.listed, [request for _, _, request in self.PROBES])
        self.assertEqual(len(self.probes.jobs), len(self.PROBES))
        for hold in self.holds:
            hold.callback([])
        self.assertEqual(self.probes.jobs, set())
        rendered = "\n".join(formatEvent(event) for event in self.events)
        self.assertIn("Probing libvirt host qemu+ssh://h/system for admin", rendered)
        self.assertNotIn(PASSWORD, rendered)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_a_request_that_cannot_work_is_refused(self) -> None:
        """A malformed address is refused at once (InvalidArgument, saying why), nothing
        starts, and it is not logged as a bug."""
        failure = self.refused(AddVirsh, user="admin", poweraddr="qemu:///system?command=sh",
                               password=PASSWORD)
        failure.trap(amp.RemoteAmpError)
        self.assertEqual(failure.value.errorCode, b"InvalidArgument")
        self.assertIn("may not set the libvirt URI parameter(s) command",
                      str(failure.value.description))
        self.assertEqual(self.listed, [])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_seamicro_needs_the_chassis_in_the_arp_cache(self) -> None:
        """AddSeaMicro15k for a MAC this host has no ARP entry for: NoIPFoundForMACAddress."""
        failure = self.refused(AddSeaMicro15k, user="admin", mac="00:11:22:33:44:66",
                               username="u", password=PASSWORD)
        failure.trap(NoIPFoundForMACAddress)
        self.assertEqual(self.listed, [])

    def test_without_a_probe_service_probes_are_not_supported(self) -> None:
        """A cluster context without probes answers NotImplementedError (typed: the
        enlistment commands declare it) and logs no password."""
        protocol = ClusterClientProtocol(Runtime(UUID, self.power), SECRET, self.clock)
        protocol.authentication_finished(True)
        for command, arguments, _ in self.PROBES:
            failure = self.failureResultOf(call_responder(protocol, command, arguments))
            failure.trap(NotImplementedError)
            self.assertIn("no probe service", str(failure.value))
        rendered = "\n".join(formatEvent(event) for event in self.events)
        self.assertNotIn(PASSWORD, rendered)
        self.assertEqual(self.flushLoggedErrors(), [])
