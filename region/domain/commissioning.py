"""
What MAAS 1.8 learnt from the output of its built-in commissioning scripts.

A commissioning node runs the scripts and posts each output to the metadata
``signal``; the region parses the outputs named below and updates the node.
These are the parsers, pure and strict: unusable output raises
:class:`CommissioningDataError` (the hook then leaves the node as it was).

=================================  ==========================================
output                             parser
=================================  ==========================================
``00-maas-01-lshw.out``            :func:`parse_lshw` (``lshw -xml``)
``00-maas-02-virtuality.out``      :func:`parse_virtuality`
``00-maas-05-network-interfaces``  :func:`parse_ip_link` (``ip link``/``ip addr``)
``00-maas-07-block-devices.out``   :func:`parse_block_devices` (JSON)
``99-maas-02-capture-lldp.out``    :func:`parse_lldp_routers` (``lldpctl -f xml``)
=================================  ==========================================

XML comes from the node, so it is untrusted: :func:`parse_xml` uses a parser
that never touches the network, never loads or validates against a DTD,
never expands entities, keeps libxml2's size and depth limits (no
``huge_tree``), and refuses any document with a DOCTYPE at all.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import attrs
from lxml import etree

from region.domain.macs import normalise_mac


class CommissioningDataError(ValueError):
    """A commissioning script's output that cannot be used."""


@attrs.frozen
class LshwFacts:
    """What the lshw hook sets on the node."""

    cpu_count: int
    memory_mib: int


def _tag_list(tags: Any) -> list[str]:
    return [str(tag) for tag in tags]


@attrs.frozen
class BlockDevice:
    """A physical block device, with the fields of the node JSON's
    ``physicalblockdevice_set`` (bar the database id).

    ``tags`` is a list (not a tuple) so that ``attrs.asdict`` gives what a
    PostgreSQL ``text[]`` parameter needs; it is left out of the hash.
    """

    name: str
    path: str
    id_path: str
    size: int
    block_size: int
    model: str
    serial: str
    tags: list[str] = attrs.field(converter=_tag_list, hash=False)


def hardened_parser() -> etree.XMLParser:
    """An lxml parser safe for XML from an untrusted machine."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """The root element of data, parsed with :func:`hardened_parser`.

    :raises CommissioningDataError: when data is not well-formed XML, is
        empty, or declares a DOCTYPE.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise CommissioningDataError("empty XML document")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as error:
        raise CommissioningDataError(f"invalid XML: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise CommissioningDataError("XML with a DOCTYPE is not accepted")
    return root


# -- lshw --------------------------------------------------------------------

#: cpu_count, as 1.8 computed it: the ``threads`` settings of the enabled
#: processors on the motherboard (``core``), plus one for every enabled
#: processor that has no ``threads`` setting (virtual machines, old kernels).
_CPU_COUNT = etree.XPath("""
    sum(//node[@id='core']/node[@class='processor'][not(@disabled)]
            //setting[@id='threads']/@value)
    + count(//node[@id='core']/node[@class='processor'][not(@disabled)]
            [not(configuration/setting[@id='threads'])])
""")

#: memory in bytes, as 1.8 computed it: the size of the ``memory`` node
#: (one memory array), plus the sizes of the banks of ``memory:N`` nodes
#: (several arrays, where lshw gives no total).  Banks of the ``memory``
#: node itself are *not* added: lshw gives that node a total size.
_MEMORY_BYTES = etree.XPath("""
    sum(//node[@id='memory']/size[@units='bytes']
        | //node[starts-with(@id, 'memory:')]/node[starts-with(@id, 'bank:')]
            /size[@units='bytes'])
""")


def parse_lshw(xml: bytes) -> LshwFacts:
    """cpu_count and memory (MiB, rounded down) from ``lshw -xml`` output.

    :raises CommissioningDataError: when the output is not XML, has no lshw
        ``node`` element, or holds a thread count or size that is not a number.
    """
    root = parse_xml(xml)
    if root.tag != "node" and root.find("node") is None:
        raise CommissioningDataError("not lshw output: no <node> element")
    cpu_count = _CPU_COUNT(root)
    memory = _MEMORY_BYTES(root)
    if not (math.isfinite(cpu_count) and math.isfinite(memory)):
        raise CommissioningDataError(
            "lshw output holds a thread count or size that is not a number")
    return LshwFacts(cpu_count=int(cpu_count), memory_mib=int(memory // (1024 * 1024)))


# -- virtuality ----------------------------------------------------------------


def parse_virtuality(text: str | bytes) -> bool | None:
    """True for ``virtual``, False for ``notvirtual``, None when it says neither.

    The 1.8 script greps /proc/cpuinfo for QEMU and prints one of the two words.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if "notvirtual" in text:
        return False
    if "virtual" in text:
        return True
    return None


# -- ip link -------------------------------------------------------------------

_LINK_ETHER = re.compile(r"^\s*link/ether\s+(\S+)", re.MULTILINE)
_NO_MAC = "00:00:00:00:00:00"


def parse_ip_link(text: str | bytes) -> list[str]:
    """The MACs of the ``link/ether`` lines of ``ip link`` (or ``ip addr``)
    output, normalised, each once, in the order they appear.

    Loopback (``link/loopback``), all-zero addresses and anything that is not
    a MAC are skipped; a bond and its slaves share a MAC, which is listed once.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    macs: dict[str, None] = {}
    for candidate in _LINK_ETHER.findall(text):
        try:
            mac = normalise_mac(candidate)
        except ValueError:
            continue
        if mac != _NO_MAC:
            macs[mac] = None
    return list(macs)


# -- LLDP ----------------------------------------------------------------------

#: 1.8's expression: every id of type mac in the capture.  Besides the chassis
#: id of each neighbour this includes port ids that are MACs (neighbours that
#: identify ports by MAC, e.g. servers running lldpd).
_ROUTER_MACS = etree.XPath("/lldp//id[@type='mac']/text()", smart_strings=False)


def parse_lldp_routers(xml: bytes) -> list[str]:
    """The MACs of the LLDP neighbours in ``lldpctl -f xml`` output:
    ``/lldp//id[@type='mac']``, normalised, each once, in document order.

    Empty output (no lldpd data at all) gives []; ids that are not MACs are
    skipped.  (1.8 stored None for empty output and kept duplicates.)

    :raises CommissioningDataError: when the output is not XML.
    """
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    if not xml.strip():
        return []
    routers: dict[str, None] = {}
    for text in _ROUTER_MACS(parse_xml(xml)):
        try:
            routers[normalise_mac(text)] = None
        except ValueError:
            continue
    return list(routers)


# -- block devices ---------------------------------------------------------------


def device_tags(info: dict[str, Any]) -> list[str]:
    """Tags for a device, from the lsblk/udev fields the 1.8 script collected:
    ``rotary`` (ROTA=1) or else ``ssd``; ``removable`` (RM=1); ``sata``
    (SATA=1); ``<RPM>rpm`` when udev knows a rotation rate."""
    tags = ["rotary" if str(info.get("ROTA", "")) == "1" else "ssd"]
    if str(info.get("RM", "")) == "1":
        tags.append("removable")
    if str(info.get("SATA", "")) == "1":
        tags.append("sata")
    rpm = str(info.get("RPM", "0") or "0")
    if rpm != "0":
        tags.append(f"{rpm}rpm")
    return tags


def _integer(info: dict[str, Any], key: str, default: int | None = None) -> int:
    value = info.get(key, default)
    if isinstance(value, bool) or value is None:
        raise CommissioningDataError(f"block device {info.get('NAME')!r} has no {key}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CommissioningDataError(
            f"block device {info.get('NAME')!r} has a non-numeric {key}: {value!r}") from None
    if number < 0:
        raise CommissioningDataError(f"block device {info.get('NAME')!r} has a negative {key}")
    return number


def _text(info: dict[str, Any], key: str) -> str:
    value = info.get(key)
    return "" if value is None else str(value).strip()


def parse_block_devices(data: bytes) -> list[BlockDevice]:
    """The physical block devices in the 1.8 block-devices script's JSON.

    The script printed a list of objects with string values: lsblk's
    ``NAME``, ``RO``, ``RM``, ``MODEL``, ``ROTA``; udev's ``PATH``
    (DEVNAME), ``SERIAL`` (ID_SERIAL_SHORT), ``SATA`` (ID_ATA_SATA) and
    ``RPM`` (ID_ATA_ROTATION_RATE_RPM); ``ID_PATH`` (a /dev/disk/by-id
    link, when there is one); and blockdev's ``SIZE`` and ``BLOCK_SIZE``.
    Read-only devices (RO=1) are left out, as 1.8 did.  A device without a
    PATH gets ``/dev/<NAME>`` (lsblk writes ``cciss!c0d0`` for
    ``/dev/cciss/c0d0``).

    :raises CommissioningDataError: when data is not such a list.
    """
    try:
        listing = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise CommissioningDataError(f"block devices: invalid JSON: {error}") from None
    if not isinstance(listing, list) or not all(isinstance(item, dict) for item in listing):
        raise CommissioningDataError("block devices: expected a JSON list of objects")
    devices = []
    for info in listing:
        name = _text(info, "NAME")
        if not name:
            raise CommissioningDataError("block device without a NAME")
        if _text(info, "RO") == "1":
            continue
        devices.append(BlockDevice(
            name=name,
            path=_text(info, "PATH") or "/dev/" + name.replace("!", "/"),
            id_path=_text(info, "ID_PATH"),
            size=_integer(info, "SIZE"),
            block_size=_integer(info, "BLOCK_SIZE", 512),
            model=_text(info, "MODEL"),
            serial=_text(info, "SERIAL"),
            tags=device_tags(info),
        ))
    return devices
