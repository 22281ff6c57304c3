"""
Probing a chassis or hypervisor and enlisting its machines (``probe_and_enlist_hardware``).

The region's enlistment commands (AddVirsh, AddESXi, AddVMware,
AddSeaMicro15k, EnlistNodesFromMSCM, EnlistNodesFromUCSM,
EnlistNodesFromMicrosoftOCS) arrive here as a :class:`ProbeRequest`.
:class:`ProbeService` then, for each request:

1. lists the machines behind the device with the power drivers'
   ``list_machines`` (``power.virsh``, ``power.vmware``, ``power.sm15k``,
   ``power.mscm``, ``power.ucsm``, ``power.msftocs``), each call bounded by
   its own timeouts;
2. keeps those that have at least one MAC address (and, for virsh, ESXi and
   VMware, whose name starts with ``prefix_filter``);
3. creates one node per machine on the region with ``CreateNode``
   (architecture, power type, power parameters as JSON, MACs, and for
   virtual machines their name as hostname).  A machine whose MAC the region
   already knows (``NodeAlreadyExists``) is skipped and logged, so probing
   the same device twice enlists nothing twice;
4. for a libvirt domain it enlisted, makes the network the first boot
   device (:class:`VirshBootOrder`), so that MAAS can PXE-boot it;
5. with ``accept_all``, sends ``CommissionNode(system_id, user)`` for every
   node it created.

**Synchronous or in the background.**  The command is answered as soon as
the request is checked (addresses parse, the SeaMicro chassis' MAC is in the
ARP cache — else ``NoIPFoundForMACAddress``, as 1.8 answered); the probe
runs in the background, as in 1.8.  A chassis of 45 cartridges over SSH
takes minutes, longer than any API client (or the region's 30-second call)
waits.  Each probe has an overall deadline (:data:`PROBE_DEADLINE`, 30
minutes); each region call its own (:data:`CREATE_TIMEOUT`,
:data:`COMMISSION_TIMEOUT`).  The outcome is reported in the cluster's log
(namespace ``cluster.probes``): one line per machine (enlisted as which
system_id, skipped, or why it failed) and a summary per probe — there is no
node yet to attach an event to when listing fails.  The region logs each
node it creates.  Two requests for the same device run one after the other,
never interleaved.  If no connection to the region is left, the probe stops
(the rest of the machines are counted as not enlisted).

**Per model**, the power parameters of each node (the secret is the device's
password, given by the administrator):

=============== ============ ==========================================================
model           power type   parameters
=============== ============ ==========================================================
``virsh``       ``virsh``    ``power_address`` (the URI), ``power_id`` (domain name),
                             ``power_pass``
``esxi``        ``vmware``   ``power_address`` (host), ``power_user``, ``power_pass``,
                             ``power_vm_name``, ``power_uuid``, ``power_protocol``
                             ``https+unverified``
``vmware``      ``vmware``   as esxi, plus ``power_port`` and ``power_protocol`` given
``seamicro15k`` ``sm15k``    ``system_id`` (card), ``power_address`` (the chassis' IP,
                             from ARP), ``power_user``, ``power_pass``,
                             ``power_control``
``mscm``        ``mscm``     ``power_address``, ``power_user``, ``power_pass``,
                             ``node_id`` (cXnY)
``ucsm``        ``ucsm``     ``uuid``, ``power_address`` (the URL), ``power_user``,
                             ``power_pass``
``msftocs``     ``msftocs``  ``power_address``, ``power_port``, ``power_user``,
                             ``power_pass``, ``blade_id``
=============== ============ ==========================================================

ESXi is probed through the vSphere API every ESXi host serves, with the
``vmware`` driver, and its VMs are enlisted as ``vmware`` nodes: our virsh
driver cannot answer libvirt's ``esx://`` password prompt, and 1.8's ESXi
probe did not check the host's certificate either (``no_verify=1``), hence
``https+unverified``.  Virtual machines keep their name as hostname (made a
valid host name; if the region refuses it, e.g. it is taken, the node is
enlisted under a generated name); cartridges, blades and server cards get
generated names, as in 1.8.  Architectures are the drivers' (x86_64 →
``amd64/generic``, m400 cartridges ``arm64/xgene-uboot``...).

**Leaving the device bootable.**  A libvirt domain MAAS enlists gets the
network as its first boot device, the others after it, by redefining its
persistent XML (``virsh dumpxml --inactive --security-info``, change
``<os><boot>`` only, ``virsh define``).  That is skipped — logged, never an
error — when it cannot be done safely: a transient domain, per-device boot
order, direct kernel boot, a non-``hvm`` domain, or an XML in which the
device's password appears (scrubbing it would corrupt the definition).  A
running domain is left running: the probe never powers anything off
(commissioning a running domain needs it to be restarted).  The other
drivers choose PXE at each power-on themselves (MSCM ``bootonce pxe``, OCS
``SetNextBoot``, SeaMicro ``using-pxe``), so nothing is changed there; VMware
and UCS boot order (VM boot options, service-profile boot policy) is left to
the administrator.

Passwords never reach a log line: messages are scrubbed of the request's
password (``power.redact.scrub``), and ``ProbeRequest`` keeps it out of its
``repr``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import attrs
from lxml import etree
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, DeferredLock, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from cluster.power.reports import RegionClient
from power import mscm, msftocs, sm15k, ucsm, virsh, vmware
from power.address import AddressError, parse_address
from power.errors import PowerError
from power.ipmi_tools import write_private
from power.redact import PLACEHOLDER, scrub
from power.schema import normalise_mac
from rpc.commands.region import CommissionNode, CreateNode
from rpc.errors import (
    CommissionNodeFailed,
    NoConnectionsAvailable,
    NodeAlreadyExists,
    NoIPFoundForMACAddress,
)

log = Logger(namespace="cluster.probes")

#: Seconds a whole probe (listing, enlisting, commissioning) may take.
PROBE_DEADLINE = 1800.0
#: Seconds the listing of one device may take (each driver bounds its own calls too).
LIST_TIMEOUT = 600.0
#: Seconds to wait for the region's answer to CreateNode and to CommissionNode.
CREATE_TIMEOUT = 60.0
COMMISSION_TIMEOUT = 120.0
#: Seconds for each virsh call that sets a domain's boot order.
VIRSH_TIMEOUT = 60.0

#: The models (the REST API's names) and the power type their nodes get.
POWER_TYPES: Mapping[str, str] = {
    "virsh": "virsh",
    "esxi": "vmware",
    "vmware": "vmware",
    "seamicro15k": "sm15k",
    "mscm": "mscm",
    "ucsm": "ucsm",
    "msftocs": "msftocs",
}
#: Models whose machines are virtual machines with names (prefix_filter, hostnames).
NAMED_MODELS = frozenset({"virsh", "esxi", "vmware"})
#: The vSphere protocol used for ESXi hosts (1.8's esx:// URI had no_verify=1).
ESXI_PROTOCOL = "https+unverified"

_DESCRIPTIONS = {
    "virsh": "libvirt host",
    "esxi": "ESXi host",
    "vmware": "VMware host",
    "seamicro15k": "SeaMicro 15000 chassis",
    "mscm": "Moonshot chassis manager",
    "ucsm": "UCS Manager",
    "msftocs": "OCS chassis manager",
}
_HOST_LABEL = re.compile(r"[^a-z0-9-]+")


class ProbeRefused(ValueError):
    """The request cannot be probed as given (a malformed address); the message says why."""


@attrs.frozen(repr=False)
class ProbeRequest:
    """
    What the region asked for: which device, with which credentials, for whom.

    :param model: ``virsh``, ``esxi``, ``vmware``, ``seamicro15k``, ``mscm``,
        ``ucsm`` or ``msftocs``.
    :param user: the MAAS user on whose behalf nodes are commissioned.
    :param address: the device: a libvirt URI, a host, a URL, an IP; for
        ``seamicro15k`` the chassis' IP, found from ``mac``.
    :param username: the device's user ("" for virsh).
    :param password: the device's password; never shown.
    """

    model: str
    user: str
    address: str
    username: str = ""
    password: str = attrs.field(default="", repr=False)
    accept_all: bool = False
    prefix_filter: str = ""
    port: str = ""
    protocol: str = ""
    power_control: str = ""
    mac: str = ""

    def __repr__(self) -> str:
        return (f"ProbeRequest({self.model!r}, user={self.user!r}, "
                f"target={self.describe()!r}, accept_all={self.accept_all!r})")

    @property
    def vsphere_protocol(self) -> str:
        """The vSphere protocol (esxi, vmware): an ESXi host's is :data:`ESXI_PROTOCOL`."""
        return ESXI_PROTOCOL if self.model == "esxi" else self.protocol

    @property
    def sm15k_control(self) -> str:
        """How SeaMicro server cards are powered: ``ipmi`` unless power_control says."""
        return self.power_control or "ipmi"

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the device: requests with the same key run one at a time."""
        return self.model, self.address

    def describe(self) -> str:
        """The device in words, for logs: no password, even one written into a URL."""
        address = self.address
        if "://" in address:
            parts = urlsplit(address)
            if parts.password is not None:
                netloc = parts.netloc.rsplit("@", 1)[1]
                user = parts.username or ""
                address = urlunsplit(parts._replace(netloc=f"{user}@{netloc}"))
        if self.model == "seamicro15k" and self.mac:
            address = f"{address} ({self.mac})"
        return scrub(f"{_DESCRIPTIONS.get(self.model, self.model)} {address}", [self.password])


@attrs.frozen
class FoundMachine:
    """A machine behind a device, as CreateNode needs it."""

    #: How logs name it ("domain node1", "blade 3").
    label: str
    architecture: str
    macs: tuple[str, ...]
    power_type: str
    #: Includes the device's password: never log it.
    power_parameters: Mapping[str, str] = attrs.field(repr=False)
    #: A virtual machine's name (prefix_filter, hostname, the virsh boot order); "" for
    #: cartridges, blades and server cards.
    name: str = ""

    @property
    def hostname(self) -> str | None:
        """The hostname to ask for: the VM's name made a host name; None (generated)."""
        return host_name(self.name)


@attrs.define
class ProbeReport:
    """What one probe did (the Deferred of :meth:`ProbeService.start` fires with it)."""

    request: ProbeRequest
    found: int = 0
    #: system_ids created.
    enlisted: list[str] = attrs.field(factory=list)
    #: Labels of machines whose MAC was already known.
    skipped: list[str] = attrs.field(factory=list)
    #: (label, reason) of machines left out or not enlisted.
    failed: list[tuple[str, str]] = attrs.field(factory=list)
    commissioned: list[str] = attrs.field(factory=list)
    #: Why the probe as a whole failed or stopped, if it did.
    error: str | None = None


# -- Requests, from the commands' arguments -------------------------------------------


def check_request(request: ProbeRequest) -> None:
    """
    Refuse, before anything starts, a request that cannot work.

    :raises ProbeRefused: a malformed address, an unknown model.
    """
    if request.model not in POWER_TYPES:
        raise ProbeRefused(f"Unknown hardware model '{request.model}'.")
    try:
        if request.model == "virsh":
            virsh.check_uri(request.address or virsh.DEFAULT_URI)
        elif request.model in ("esxi", "vmware"):
            vmware.endpoint({"power_address": request.address, "power_port": request.port,
                             "power_protocol": request.vsphere_protocol})
        elif request.model == "ucsm":
            ucsm.api_url(request.address)
        elif request.model == "msftocs":
            msftocs.MicrosoftOCSPowerDriver(None).address(
                {"power_address": request.address, "power_port": request.port})
        elif request.model in ("mscm", "seamicro15k"):
            try:
                parse_address(request.address)
            except AddressError as error:
                raise ProbeRefused(f"Bad chassis address '{request.address}': {error}") from None
        if request.model == "seamicro15k" and request.power_control not in ("", *sm15k.CONTROLS):
            raise ProbeRefused(f"power_control must be one of {', '.join(sm15k.CONTROLS)}.")
    except PowerError as error:
        raise ProbeRefused(scrub(str(error), [request.password])) from None


def read_arp_cache(path: str = "/proc/net/arp") -> dict[str, str]:
    """MAC → IPv4 address from the kernel's ARP cache (complete entries only)."""
    found: dict[str, str] = {}
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] != "0x0":
            try:
                found.setdefault(normalise_mac(fields[3]), fields[0])
            except ValueError:
                continue
    return found


def find_ip_via_arp(mac: str, arp_cache: Callable[[], Mapping[str, str]] = read_arp_cache,
                    ) -> str:
    """The IP address this host's ARP cache has for mac; NoIPFoundForMACAddress if none."""
    try:
        wanted = normalise_mac(mac)
    except ValueError:
        raise NoIPFoundForMACAddress(f"'{mac}' is not a MAC address.") from None
    ip = arp_cache().get(wanted)
    if not ip:
        raise NoIPFoundForMACAddress(f"No IP address found for MAC address {wanted}.")
    return ip


# -- What the drivers list, as nodes --------------------------------------------------


def host_name(name: str) -> str | None:
    """name made a valid host name label (lower case, letters, digits, -), or None."""
    label = _HOST_LABEL.sub("-", name.strip().lower()).strip("-")[:63].strip("-")
    return label or None


def _macs(values: Iterable[str]) -> tuple[str, ...]:
    found = []
    for value in values:
        try:
            found.append(normalise_mac(value))
        except ValueError:
            continue
    return tuple(dict.fromkeys(found))


def _vsphere_parameters(request: ProbeRequest, machine: vmware.VMwareMachine) -> dict[str, str]:
    return {"power_vm_name": machine.name, "power_uuid": machine.uuid,
            "power_address": request.address, "power_user": request.username,
            "power_pass": request.password, "power_port": request.port,
            "power_protocol": request.vsphere_protocol}


def to_found(request: ProbeRequest, record: Any) -> FoundMachine:
    """One driver record (VirshMachine, VMwareMachine, SM15KServer, MSCMNode,
    UCSMServer, Blade) as a node to create for request."""
    model, power_type = request.model, POWER_TYPES[request.model]
    credentials = {"power_user": request.username, "power_pass": request.password}
    if model == "virsh":
        return FoundMachine(
            f"domain {record.name}", record.architecture, _macs(record.macs), power_type,
            {"power_address": request.address, "power_id": record.name,
             "power_pass": request.password},
            record.name)
    if model in ("esxi", "vmware"):
        return FoundMachine(f"VM {record.name}", record.architecture, _macs(record.macs),
                            power_type, _vsphere_parameters(request, record), record.name)
    if model == "seamicro15k":
        return FoundMachine(
            f"server {record.system_id}", "amd64/generic", _macs(record.macs), power_type,
            {"system_id": record.system_id, "power_address": request.address, **credentials,
             "power_control": request.sm15k_control})
    if model == "mscm":
        return FoundMachine(
            f"node {record.node_id}", record.architecture, _macs(record.macs), power_type,
            {"power_address": request.address, **credentials, "node_id": record.node_id})
    if model == "ucsm":
        return FoundMachine(
            f"server {record.uuid or record.dn}", "amd64/generic", _macs(record.macs),
            power_type, {"uuid": record.uuid, "power_address": request.address, **credentials})
    if model == "msftocs":
        return FoundMachine(
            f"blade {record.blade_id}", "amd64/generic", _macs(record.macs), power_type,
            {"power_address": request.address, "power_port": request.port, **credentials,
             "blade_id": record.blade_id})
    raise ProbeRefused(f"Unknown hardware model '{model}'.")


def select(request: ProbeRequest, records: Sequence[Any],
           ) -> tuple[list[FoundMachine], list[tuple[str, str]]]:
    """The machines to enlist, and (label, reason) for each one left out."""
    chosen: list[FoundMachine] = []
    left_out: list[tuple[str, str]] = []
    for record in records:
        machine = to_found(request, record)
        if request.model in NAMED_MODELS and request.prefix_filter \
                and not machine.name.startswith(request.prefix_filter):
            continue  # not asked for: not even mentioned
        if not machine.macs:
            left_out.append((machine.label, "it has no MAC address"))
            continue
        chosen.append(machine)
    return chosen, left_out


# -- Listing, through the power drivers -------------------------------------------------


class Lister(Protocol):
    """Lists the records behind a device (``power.*.list_machines``)."""

    def __call__(self, request: ProbeRequest) -> Awaitable[Sequence[Any]]: ...


class DriverListers:
    """The real listers: the power drivers' ``list_machines``, on the given reactor."""

    def __init__(self, reactor: Any, *, clock: Any | None = None,
                 timeout: float = LIST_TIMEOUT) -> None:
        self.reactor = reactor
        self.clock = clock
        self.timeout = timeout

    async def __call__(self, request: ProbeRequest) -> Sequence[Any]:
        r, clock, timeout = self.reactor, self.clock, self.timeout
        user, password = request.username, request.password
        if request.model == "virsh":
            return await virsh.list_machines(r, request.address, password,
                                             total_timeout=timeout, clock=clock)
        if request.model in ("esxi", "vmware"):
            return await vmware.list_machines(r, request.address, user, password,
                                              port=request.port or None,
                                              protocol=request.vsphere_protocol,
                                              timeout=timeout, clock=clock)
        if request.model == "seamicro15k":
            return await sm15k.list_machines(r, request.address, user, password,
                                             request.sm15k_control,
                                             timeout=timeout, clock=clock)
        if request.model == "mscm":
            return await mscm.list_machines(r, request.address, user, password,
                                            timeout=timeout, clock=clock)
        if request.model == "ucsm":
            return await ucsm.list_machines(r, request.address, user, password,
                                            timeout=timeout, clock=clock)
        if request.model == "msftocs":
            return await msftocs.list_machines(r, request.address, request.port, user,
                                               password, timeout=timeout, clock=clock)
        raise ProbeRefused(f"Unknown hardware model '{request.model}'.")


# -- Leaving a libvirt domain bootable from the network ---------------------------------


class BootOrder(Protocol):
    """Makes an enlisted machine boot from the network; returns what it did, in words."""

    def __call__(self, request: ProbeRequest, machine: FoundMachine) -> Awaitable[str]: ...


async def no_boot_order(request: ProbeRequest, machine: FoundMachine) -> str:
    return ""


def network_first(xml: str) -> tuple[str | None, str]:
    """
    The domain XML with the network as first boot device (the other
    ``<os><boot>`` devices after it; ``hd`` when there were none), or None
    and the reason it is left as it is.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_blank_text=False)
    try:
        root = etree.fromstring(xml.encode(), parser=parser)
    except etree.XMLSyntaxError as error:
        return None, f"its XML does not parse ({error})"
    os_element = root.find("os")
    if os_element is None or (os_element.findtext("type") or "").strip() != "hvm":
        return None, "it is not a hardware-virtualised (hvm) domain"
    if os_element.find("kernel") is not None:
        return None, "it boots a kernel directly"
    if root.find("devices/*/boot") is not None:
        return None, "it sets a boot order per device"
    boots = [boot.get("dev", "") for boot in os_element.findall("boot")]
    if boots[:1] == ["network"]:
        return None, "it already boots from the network first"
    wanted = ["network", *[dev for dev in boots if dev and dev != "network"]]
    if len(wanted) == 1:
        wanted.append("hd")
    old = os_element.findall("boot")
    position = os_element.index(old[0]) if old else _after_boot_sources(os_element)
    for boot in old:
        os_element.remove(boot)
    for offset, dev in enumerate(wanted):
        element = etree.Element("boot", {"dev": dev})
        element.tail = old[0].tail if old else os_element.text
        os_element.insert(position + offset, element)
    return etree.tostring(root, encoding="unicode"), ""


def _after_boot_sources(os_element: Any) -> int:
    """Where ``<boot>`` elements go: after type, loader and nvram."""
    position = 0
    for index, child in enumerate(os_element):
        if child.tag in ("type", "loader", "nvram"):
            position = index + 1
    return position


class VirshBootOrder:
    """
    Sets an enlisted domain's persistent boot order to network first, with
    ``virsh`` through the virsh power driver (argv, timeouts, askpass for
    ``+ssh`` URIs).  Never raises for a domain it leaves alone; a virsh
    failure is a PowerError.
    """

    def __init__(self, reactor: Any, *, clock: Any | None = None,
                 timeout: float = VIRSH_TIMEOUT, tempdir: str | None = None,
                 **driver_options: Any) -> None:
        self.driver = virsh.VirshPowerDriver(reactor, clock=clock, timeout=timeout,
                                             tempdir=tempdir, **driver_options)

    async def __call__(self, request: ProbeRequest, machine: FoundMachine) -> str:
        if request.model != "virsh" or not machine.name:
            return ""
        uri = virsh.check_uri(request.address or virsh.DEFAULT_URI)
        password, domain = request.password, machine.name
        info = await self.driver.run_virsh(uri, password, "dominfo", "--", domain,
                                           domain=domain)
        persistent = re.search(r"^Persistent:\s*(\S+)", info, re.MULTILINE)
        if persistent is None or persistent.group(1).lower() != "yes":
            return "boot order left as it is: it is a transient domain"
        xml = await self.driver.run_virsh(uri, password, "dumpxml", "--inactive",
                                          "--security-info", "--", domain, domain=domain)
        if PLACEHOLDER in xml:
            return "boot order left as it is: its definition holds a password"
        changed, reason = network_first(xml)
        if changed is None:
            return f"boot order left as it is: {reason}"
        workdir = Path(tempfile.mkdtemp(prefix="maas-probe-", dir=self.driver.tempdir))
        try:
            path = workdir / "domain.xml"
            write_private(path, changed)
            await self.driver.run_virsh(uri, password, "define", "--", str(path),
                                        domain=domain)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return "set to boot from the network first"


# -- The service -----------------------------------------------------------------------


def _reason(error: BaseException, secrets: Sequence[str]) -> str:
    text = getattr(error, "description", None) or str(error) or type(error).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return scrub(str(text).strip(), secrets)


class ProbeService(Service):
    """
    Runs probes in the background, one at a time per device.

    :param clock: for deadlines.
    :param region: where CreateNode and CommissionNode go
        (``cluster.rpc.connections.RegionConnections``).
    :param cluster_uuid: the cluster the nodes belong to.
    :param lister: lists a device's machines (:class:`DriverListers`).
    :param boot_order: makes an enlisted machine boot from the network
        (:class:`VirshBootOrder`; :func:`no_boot_order` does nothing).
    :param arp_cache: MAC → IP (the SeaMicro chassis is given by its MAC).
    :param deadline: seconds one probe may take.
    """

    def __init__(self, clock: IReactorTime, region: RegionClient, cluster_uuid: str,
                 lister: Lister, *, boot_order: BootOrder = no_boot_order,
                 arp_cache: Callable[[], Mapping[str, str]] = read_arp_cache,
                 deadline: float = PROBE_DEADLINE) -> None:
        self.clock = clock
        self.region = region
        self.cluster_uuid = cluster_uuid
        self.lister = lister
        self.boot_order = boot_order
        self.arp_cache = arp_cache
        self.deadline = deadline
        #: The probes in flight.
        self.jobs: set[Deferred[ProbeReport]] = set()
        self._locks: dict[tuple[str, str], DeferredLock] = {}

    def stopService(self) -> None:
        super().stopService()
        for job in list(self.jobs):
            job.cancel()

    def prepare(self, request: ProbeRequest) -> ProbeRequest:
        """
        request, checked, with the SeaMicro chassis' IP filled in.

        :raises ProbeRefused: see :func:`check_request`.
        :raises NoIPFoundForMACAddress: the chassis' MAC is not in the ARP cache.
        """
        if request.model == "seamicro15k":
            request = attrs.evolve(request, address=find_ip_via_arp(request.mac,
                                                                    self.arp_cache))
        check_request(request)
        return request

    def start(self, request: ProbeRequest) -> Deferred[ProbeReport]:
        """
        Check request and start probing in the background; return at once.

        The Deferred fires with the :class:`ProbeReport` when the probe is
        over (it never fails; cancelling it stops the probe).

        :raises ProbeRefused: see :func:`check_request`.
        :raises NoIPFoundForMACAddress: the SeaMicro chassis' MAC is not in the ARP cache.
        """
        request = self.prepare(request)
        report = ProbeReport(request)
        log.info("Probing {target} for {user} (accept_all={accept_all})",
                 target=request.describe(), user=request.user, accept_all=request.accept_all)
        lock = self._locks.setdefault(request.key, DeferredLock())

        async def guarded() -> ProbeReport:
            await lock.acquire()
            try:
                return await self._bounded(report)
            finally:
                lock.release()
                if not lock.locked and not lock.waiting:
                    self._locks.pop(request.key, None)

        job = Deferred.fromCoroutine(guarded())
        self.jobs.add(job)

        def finished(result: ProbeReport | Failure) -> ProbeReport | Failure:
            self.jobs.discard(job)
            if isinstance(result, Failure):
                if not result.check(CancelledError):
                    log.failure("Probing {target} crashed", result,
                                target=request.describe())
                report.error = report.error or "stopped"
                return report
            return result

        job.addBoth(finished)
        return job

    async def _bounded(self, report: ProbeReport) -> ProbeReport:
        request = report.request
        work = Deferred.fromCoroutine(self._probe(report))
        work.addTimeout(self.deadline, self.clock)
        try:
            await work
        except TimeoutError:
            report.error = f"stopped after {self.deadline:g} s (the probe's deadline)"
        except NoConnectionsAvailable as error:
            report.error = f"stopped: no connection to the region ({error})"
        except PowerError as error:
            report.error = f"could not list its machines: {_reason(error, [request.password])}"
        self._summarise(report)
        return report

    def _summarise(self, report: ProbeReport) -> None:
        request = report.request
        fields = dict(target=request.describe(), found=report.found,
                      enlisted=len(report.enlisted), skipped=len(report.skipped),
                      failed=len(report.failed), commissioned=len(report.commissioned))
        if report.error is not None:
            log.warn("Probe of {target} {error}; found {found}, enlisted {enlisted}, "
                     "already known {skipped}, failed {failed}, commissioning "
                     "{commissioned}", error=report.error, **fields)
        else:
            log.info("Probe of {target} done: found {found}, enlisted {enlisted}, already "
                     "known {skipped}, failed {failed}, commissioning {commissioned}",
                     **fields)

    async def _probe(self, report: ProbeReport) -> None:
        request = report.request
        records = await self.lister(request)
        machines, left_out = select(request, records)
        report.found = len(machines) + len(left_out)
        log.info("Found {count} machine(s) behind {target}", count=report.found,
                 target=request.describe())
        for label, reason in left_out:
            log.info("Not enlisting {machine} of {target}: {reason}", machine=label,
                     target=request.describe(), reason=reason)
            report.failed.append((label, reason))
        created: list[tuple[FoundMachine, str]] = []
        for machine in machines:
            system_id = await self._create(report, machine)
            if system_id is not None:
                created.append((machine, system_id))
                await self._boot_from_network(report, machine, system_id)
        if request.accept_all:
            for machine, system_id in created:
                await self._commission(report, machine, system_id)

    async def _create(self, report: ProbeReport, machine: FoundMachine) -> str | None:
        request = report.request
        secrets = [request.password]
        arguments: dict[str, Any] = {
            "cluster_uuid": self.cluster_uuid, "architecture": machine.architecture,
            "power_type": machine.power_type,
            "power_parameters": json.dumps(dict(machine.power_parameters)),
            "mac_addresses": list(machine.macs)}
        hostname = machine.hostname
        while True:
            try:
                answer = await self.region.call(
                    CreateNode, timeout=CREATE_TIMEOUT,
                    **arguments, **({"hostname": hostname} if hostname else {}))
            except NodeAlreadyExists as error:
                log.info("Skipped {machine} of {target}: already enlisted ({reason})",
                         machine=machine.label, target=request.describe(),
                         reason=_reason(error, secrets))
                report.skipped.append(machine.label)
                return None
            except (NoConnectionsAvailable, CancelledError):
                raise
            except Exception as error:  # the region refused it, or the call failed
                reason = _reason(error, secrets)
                if hostname and "hostname" in reason.lower():
                    log.info("The region refused hostname {hostname} for {machine} ({reason});"
                             " enlisting it under a generated name", hostname=hostname,
                             machine=machine.label, reason=reason)
                    hostname = None
                    continue
                log.warn("Could not enlist {machine} of {target}: {reason}",
                         machine=machine.label, target=request.describe(), reason=reason)
                report.failed.append((machine.label, reason))
                return None
            system_id = str(answer["system_id"])
            log.info("Enlisted {machine} of {target} ({macs}, {architecture}) as "
                     "{system_id}", machine=machine.label, target=request.describe(),
                     macs=", ".join(machine.macs), architecture=machine.architecture,
                     system_id=system_id)
            report.enlisted.append(system_id)
            return system_id

    async def _boot_from_network(self, report: ProbeReport, machine: FoundMachine,
                                 system_id: str) -> None:
        secrets = [report.request.password]
        try:
            done = await self.boot_order(report.request, machine)
        except PowerError as error:
            log.warn("Could not make {machine} ({system_id}) boot from the network: "
                     "{reason}", machine=machine.label, system_id=system_id,
                     reason=_reason(error, secrets))
            return
        if done:
            log.info("{machine} ({system_id}): {what}", machine=machine.label,
                     system_id=system_id, what=scrub(done, secrets))

    async def _commission(self, report: ProbeReport, machine: FoundMachine,
                          system_id: str) -> None:
        request = report.request
        try:
            await self.region.call(CommissionNode, timeout=COMMISSION_TIMEOUT,
                                   system_id=system_id, user=request.user)
        except (NoConnectionsAvailable, CancelledError):
            raise
        except Exception as error:  # CommissionNodeFailed, or the call failed
            kind = "" if isinstance(error, CommissionNodeFailed) else f" ({type(error).__name__})"
            reason = _reason(error, [request.password])
            log.warn("Could not commission {system_id} ({machine}){kind}: {reason}",
                     system_id=system_id, machine=machine.label, kind=kind, reason=reason)
            report.failed.append((machine.label, f"commissioning: {reason}"))
            return
        log.info("Commissioning {system_id} ({machine}) for {user}", system_id=system_id,
                 machine=machine.label, user=request.user)
        report.commissioned.append(system_id)
