"""Parsers for the output of 1.8's built-in commissioning scripts, over the documents
in tests/data/commissioning (expected values worked out by hand from those files)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from region.domain.commissioning import (
    BlockDevice,
    CommissioningDataError,
    LshwFacts,
    parse_block_devices,
    parse_ip_link,
    parse_lldp_routers,
    parse_lshw,
    parse_virtuality,
    parse_xml,
)

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "commissioning"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- lshw -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "facts"), [
    # 2 sockets x (10 cores, threads=20); memory:0 and memory:1 have 4 x 16 GiB banks each
    # (empty banks have no size) = 128 GiB; BIOS and cache sizes are not memory.
    ("lshw-hp-dl380-gen9.xml", LshwFacts(cpu_count=40, memory_mib=131072)),
    # 4 vCPUs without a threads setting count one each; memory node 4294967296 bytes
    # (its single bank repeats the size and is not added again).
    ("lshw-qemu-kvm.xml", LshwFacts(cpu_count=4, memory_mib=4096)),
    # 8 CPUs without threads settings; 67307585536 bytes = 64189.515625 MiB, rounded down.
    ("lshw-hp-m400-arm64.xml", LshwFacts(cpu_count=8, memory_mib=64189)),
    # One Xeon without a threads setting, one disabled empty socket; memory node 2 GiB.
    ("lshw-dell-pe1850-precise.xml", LshwFacts(cpu_count=1, memory_mib=2048)),
])
def test_lshw_documents(name: str, facts: LshwFacts) -> None:
    """cpu_count and memory of each shipped machine, as 1.8's XPath rules compute them."""
    assert parse_lshw(data(name)) == facts


def lshw(core: str) -> bytes:
    return (f'<list><node id="box" class="system"><node id="core" class="bus">{core}'
            f'</node></node></list>').encode()


def test_threads_are_summed_over_enabled_processors() -> None:
    """Each enabled processor adds its threads setting; a disabled one adds nothing,
    even with a threads setting."""
    core = ('<node id="cpu:0" class="processor"><configuration>'
            '<setting id="threads" value="16"/></configuration></node>'
            '<node id="cpu:1" class="processor"><configuration>'
            '<setting id="threads" value="12"/></configuration></node>'
            '<node id="cpu:2" class="processor" disabled="true"><configuration>'
            '<setting id="threads" value="12"/></configuration></node>'
            '<node id="cpu:3" class="processor"/>')
    assert parse_lshw(lshw(core)).cpu_count == 16 + 12 + 1


def test_processors_outside_core_do_not_count() -> None:
    """Only processors directly under the motherboard (core) are counted, as in 1.8."""
    document = (b'<list><node id="box" class="system"><node id="cpu" class="processor"/>'
                b'<node id="core" class="bus"/></node></list>')
    assert parse_lshw(document).cpu_count == 0


def test_banks_of_the_memory_node_are_not_added() -> None:
    """1.8 adds the size of node "memory" and the banks of "memory:N" nodes only: banks
    under "memory" itself are ignored (lshw gives that node the total)."""
    gib = 1024**3
    core = (f'<node id="memory" class="memory"><node id="bank:0" class="memory">'
            f'<size units="bytes">{gib}</size></node></node>'
            f'<node id="memory:1" class="memory"><size units="bytes">{64 * gib}</size>'
            f'<node id="bank:0" class="memory"><size units="bytes">{2 * gib}</size></node>'
            f'<node id="bank:1" class="memory"><size units="bytes">{2 * gib}</size></node>'
            f'</node>')
    assert parse_lshw(lshw(core)).memory_mib == 4096


def test_sizes_in_other_units_are_ignored() -> None:
    """Only sizes given in bytes count."""
    core = '<node id="memory" class="memory"><size units="KiB">4194304</size></node>'
    assert parse_lshw(lshw(core)).memory_mib == 0


@pytest.mark.parametrize(("document", "problem"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<list><node id='x'>", "invalid XML"),
    (b"<lldp label='LLDP neighbors'/>", "not lshw"),
    (lshw('<node id="cpu:0" class="processor"><configuration>'
          '<setting id="threads" value="many"/></configuration></node>'), "not a number"),
])
def test_unusable_lshw_is_refused(document: bytes, problem: str) -> None:
    """Output that is not lshw XML raises CommissioningDataError naming the problem."""
    with pytest.raises(CommissioningDataError, match=problem):
        parse_lshw(document)


@pytest.mark.parametrize("document", [
    # An entity expansion bomb ("billion laughs").
    b'<?xml version="1.0"?><!DOCTYPE list [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<list><node id="x">&c;</node></list>',
    # An external entity reading a local file.
    b'<?xml version="1.0"?><!DOCTYPE list [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<list><node id="x">&x;</node></list>',
    # An external DTD over the network.
    b'<?xml version="1.0"?><!DOCTYPE list SYSTEM "http://198.51.100.1/lshw.dtd">'
    b'<list><node id="x"/></list>',
])
def test_documents_with_a_doctype_are_refused(document: bytes) -> None:
    """Untrusted XML may not declare a DOCTYPE: no entities, no external DTDs."""
    with pytest.raises(CommissioningDataError):
        parse_xml(document)


def test_xml_nested_beyond_libxml2_default_depth_is_refused() -> None:
    """huge_tree stays off: absurdly deep documents are malformed, not a memory sink."""
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(CommissioningDataError):
        parse_xml(deep)


# -- virtuality -----------------------------------------------------------------------

@pytest.mark.parametrize(("output", "virtual"), [
    ("virtual\n", True), (b"virtual\n", True), ("notvirtual\n", False), ("", None),
    ("grep: /proc/cpuinfo: No such file or directory\n", None),
])
def test_virtuality(output: str | bytes, virtual: bool | None) -> None:
    """"virtual" tags the node, "notvirtual" untags it, anything else leaves it alone."""
    assert parse_virtuality(output) is virtual


# -- ip link --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "macs"), [
    # lo is skipped; eth4, eth5 and bond0 share a00:36:9f:51:3c:88, listed once.
    ("ip-link-hp-dl380-gen9.txt", ["3c:a8:2a:0e:71:d0", "3c:a8:2a:0e:71:d1",
                                   "3c:a8:2a:0e:71:d2", "3c:a8:2a:0e:71:d3",
                                   "a0:36:9f:51:3c:88"]),
    ("ip-link-qemu-kvm.txt", ["52:54:00:3a:91:0c"]),
    # `ip addr` output (inet lines between links) works the same way.
    ("ip-addr-hp-m400-arm64.txt", ["fc:15:b4:97:2c:60", "fc:15:b4:97:2c:61"]),
])
def test_ip_link_outputs(name: str, macs: list[str]) -> None:
    """The link/ether MACs of each machine, in order, once each."""
    assert parse_ip_link(data(name).decode()) == macs
    assert parse_ip_link(data(name)) == macs


def test_ip_link_normalises_and_skips_junk() -> None:
    """MACs are lower-cased; all-zero and malformed addresses and other link types
    (loopback, infiniband) are skipped."""
    text = ("2: eth0: <BROADCAST>\n    link/ether 00:1A:2B:3C:4D:5E brd ff:ff:ff:ff:ff:ff\n"
            "3: dummy0: <BROADCAST>\n    link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff\n"
            "4: weird: <>\n    link/ether zz:zz brd ff:ff:ff:ff:ff:ff\n"
            "5: ib0: <BROADCAST>\n    link/infiniband 80:00:02:08:fe:80:00:00:00:00:00:00 brd\n")
    assert parse_ip_link(text) == ["00:1a:2b:3c:4d:5e"]


def test_ip_link_without_interfaces() -> None:
    """No output means no MACs (the hook then leaves the node's MACs alone)."""
    assert parse_ip_link("") == []


# -- LLDP -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "routers"), [
    # eth0 and eth1 see the same Cisco chassis (listed once), eth4 an Arista; port ids are
    # interface names, so only chassis MACs appear.
    ("lldp-hp-dl380-gen9.xml", ["00:1b:d4:5e:a1:00", "00:1c:73:8a:2b:40"]),
    # A Juniper (port id "local") and a Linux host whose port id is a MAC: 1.8's
    # /lldp//id[@type='mac'] takes that port MAC too.
    ("lldp-hp-m400-arm64.xml", ["54:4b:8c:d2:70:c0", "0c:c4:7a:19:6e:2a", "0c:c4:7a:19:6e:2b"]),
])
def test_lldp_routers(name: str, routers: list[str]) -> None:
    """Router MACs from each capture, in document order, once each."""
    assert parse_lldp_routers(data(name)) == routers


def test_lldp_without_neighbours() -> None:
    """Empty output or a capture with no neighbours means no routers."""
    assert parse_lldp_routers(b"") == []
    assert parse_lldp_routers(b'<?xml version="1.0"?>\n<lldp label="LLDP neighbors"/>\n') == []


def test_lldp_ids_are_normalised_and_non_macs_skipped() -> None:
    """Upper-case MACs are normalised; an id typed mac that is not one is skipped; ids
    outside an <lldp> root do not count."""
    document = (b'<lldp><interface><chassis><id type="mac">00:1B:D4:5E:A1:00</id></chassis>'
                b'<port><id type="mac">bogus</id></port></interface></lldp>')
    assert parse_lldp_routers(document) == ["00:1b:d4:5e:a1:00"]
    assert parse_lldp_routers(b'<list><id type="mac">00:1b:d4:5e:a1:00</id></list>') == []


def test_malformed_lldp_is_refused() -> None:
    """A truncated capture raises CommissioningDataError."""
    with pytest.raises(CommissioningDataError):
        parse_lldp_routers(data("lldp-hp-dl380-gen9.xml")[:500])


# -- block devices ------------------------------------------------------------------------

def test_server_block_devices() -> None:
    """The DL380's devices: the read-only iLO virtual media (sde) is left out; tags come
    from ROTA, RM, SATA and RPM."""
    assert parse_block_devices(data("block-devices-hp-dl380-gen9.json")) == [
        BlockDevice(name="sda", path="/dev/sda",
                    id_path="/dev/disk/by-id/scsi-3600508b1001c4a6ec2b91f3cde27fd0b",
                    size=299966445568, block_size=4096, model="LOGICAL VOLUME",
                    serial="PDNLH0BRH7Z1NK", tags=["rotary"]),
        BlockDevice(name="sdb", path="/dev/sdb",
                    id_path="/dev/disk/by-id/ata-INTEL_SSDSC2BX480G4_BTHC5123009V480MGN",
                    size=480103981056, block_size=4096, model="INTEL SSDSC2BX48",
                    serial="BTHC5123009V480MGN", tags=["ssd", "sata"]),
        BlockDevice(name="sdc", path="/dev/sdc",
                    id_path="/dev/disk/by-id/ata-ST2000NM0033-9ZM175_Z1X4KQ9M",
                    size=2000398934016, block_size=4096, model="ST2000NM0033-9ZM",
                    serial="Z1X4KQ9M", tags=["rotary", "sata", "7200rpm"]),
        BlockDevice(name="sdd", path="/dev/sdd",
                    id_path="/dev/disk/by-id/usb-Kingston_DataTraveler_3.0_"
                            "60A44C3FACC9E150B9A3003F-0:0",
                    size=15512174592, block_size=512, model="DataTraveler 3.0",
                    serial="60A44C3FACC9E150B9A3003F", tags=["rotary", "removable"]),
    ]


def test_vm_block_device_without_serial_or_id_path() -> None:
    """A virtio disk has no serial and no by-id link: both are empty strings."""
    assert parse_block_devices(data("block-devices-qemu-kvm.json")) == [
        BlockDevice(name="vda", path="/dev/vda", id_path="", size=42949672960, block_size=4096,
                    model="", serial="", tags=["rotary"])]


def test_block_device_fields_fit_the_database_row() -> None:
    """The record's fields are exactly the blockdevices columns the lead's SQL inserts."""
    device = parse_block_devices(data("block-devices-qemu-kvm.json"))[0]
    assert set(attrs.asdict(device)) == {"name", "path", "id_path", "size", "block_size",
                                         "model", "serial", "tags"}
    assert attrs.asdict(device)["tags"] == ["rotary"]  # a list, for a text[] column


def test_missing_path_is_derived_from_the_name() -> None:
    """Without PATH, the device is /dev/<NAME>, with lsblk's "!" read as "/"."""
    listing = [{"NAME": "cciss!c0d0", "RO": "0", "RM": "0", "ROTA": "1", "SIZE": "146778685440",
                "BLOCK_SIZE": "4096"}]
    [device] = parse_block_devices(json.dumps(listing).encode())
    assert device.path == "/dev/cciss/c0d0"
    assert device.block_size == 4096


def test_numbers_may_be_json_numbers_and_block_size_defaults() -> None:
    """Sizes as JSON numbers are accepted; a missing BLOCK_SIZE is 512."""
    [device] = parse_block_devices(b'[{"NAME": "sda", "SIZE": 1000, "ROTA": "0"}]')
    assert (device.size, device.block_size, device.tags) == (1000, 512, ["ssd"])


@pytest.mark.parametrize(("document", "problem"), [
    (b"not json", "invalid JSON"),
    (b'{"NAME": "sda"}', "list of objects"),
    (b'["sda"]', "list of objects"),
    (b'[{"SIZE": "1"}]', "NAME"),
    (b'[{"NAME": "sda"}]', "no SIZE"),
    (b'[{"NAME": "sda", "SIZE": "big"}]', "non-numeric SIZE"),
    (b'[{"NAME": "sda", "SIZE": "-1"}]', "negative SIZE"),
    (b'[{"NAME": "sda", "SIZE": "1", "BLOCK_SIZE": true}]', "no BLOCK_SIZE"),
    (b"\xff\xfe", "invalid JSON"),
])
def test_unusable_block_device_output_is_refused(document: bytes, problem: str) -> None:
    """Output that is not the script's JSON raises CommissioningDataError."""
    with pytest.raises(CommissioningDataError, match=problem):
        parse_block_devices(document)
