"""
Tag definitions: XPath 1.0 expressions over a node's hardware details.

A tag with a definition is applied to every node whose commissioning
details match it; a tag whose definition is empty is a *manual* tag, set and
cleared by hand and never evaluated.

**The document** (:func:`merge_details`) is laid out exactly as MAAS 1.8's
``merge_details`` laid it out, so that definitions written for 1.8 keep
matching the same nodes:

* if the node has well-formed lshw XML, lshw's root element (``<list>``
  from lshw B.02.16 on, ``<node>`` before) *is* the document's root, its
  elements in no namespace: ``//node[@id="memory"]/size > 1024`` and
  ``/list/node[@class="system"]`` work as they did against lshw alone;
* without lshw the root is an empty ``<list>``;
* then each detail, in the order of its name (``lldp``, then ``lshw``), is
  appended to the root with every element moved into the namespace of that
  name (the URI is the name itself): LLDP as ``lldp:lldp`` and a *second
  copy* of lshw as ``lshw:list``.  Attributes stay unqualified.

Definitions are compiled with the prefixes ``lldp`` → ``lldp`` and
``lshw`` → ``lshw`` (1.8's ``tag_nsmap``), so ``//lldp:chassis/lldp:id[@type
="mac"] = "00:1b:d4:5e:a1:00"`` tests an LLDP neighbour and ``//lshw:node``
the namespaced lshw copy.  (A definition such as ``count(//*[@id="cpu:0"])``
therefore counts lshw's elements twice, as it did in 1.8.)  Details that are
not well-formed XML, that declare a DOCTYPE, or that are larger than
:data:`MAX_DETAIL_BYTES` are left out, as 1.8 left out malformed ones.

**Validation** (:func:`compile_definition`) is stricter than 1.8's, which
only compiled the expression: besides syntax, we refuse what could never
evaluate — variables, functions other than XPath 1.0's core library,
namespace prefixes other than ``lldp`` and ``lshw`` — and expressions too
costly to evaluate.  The reason in :class:`InvalidTagDefinition` is
libxml2's wording (``Invalid expression``) where libxml2 has one.

**Evaluation is bounded.**  libxml2 cannot be interrupted, and XPath 1.0
nests (``count(//*[count(//*) > 3])`` is quadratic, a comparison of two
node-sets compares all pairs).  :mod:`region.domain.xpath_cost` computes an
upper bound on the work an expression needs over a given document;
:func:`evaluate` refuses (:class:`TagEvaluationError`) when that bound
exceeds :data:`MAX_COST`, 5 x 10⁷ units: at the slowest rate measured
(1.2 x 10⁸ units per second) about 0.4 s of libxml2 in the worst case.
Ordinary definitions cost 10⁴ to 10⁶ units over a real server's details
(milliseconds).  :func:`compile_definition` refuses, with a clear reason,
definitions whose bound exceeds the budget over :data:`REFERENCE_STATS`, a
server four times the size of our two-socket test machine; so a definition
that is accepted evaluates on any machine up to that size.  One consequence:
``//node[...]//setting[...]`` (descendants of a set of elements) is costly
because libxml2 merges the results quadratically, and may be refused where
``//node[...][.//setting[...]]`` is not.  XPath runs without "smart strings"
(results are plain ``str``, not linked back to the tree) and without EXSLT
regular expressions.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
from lxml import etree

from region.domain import xpath_cost, xpath_syntax
from region.domain.commissioning import CommissioningDataError, parse_xml
from region.domain.xpath_cost import DocumentStats

#: Prefix → namespace URI of the details, as 1.8 named them.
NAMESPACES = {"lldp": "lldp", "lshw": "lshw"}

#: The most work (in xpath_cost's units, about a node visit) one evaluation may take.
MAX_COST = 50_000_000

#: The longest definition accepted, in characters.
MAX_DEFINITION_LENGTH = 4096

#: Details larger than this are left out of the document (lshw of a large
#: server is a few hundred KiB).
MAX_DETAIL_BYTES = 8 * 1024 * 1024

#: A large commissioned machine, for checking definitions before any node is
#: at hand: the merged details of our two-socket test server
#: (tests/data/commissioning/lshw-hp-dl380-gen9.xml with its LLDP capture)
#: scaled four times over, with each name not listed assumed to occur 40 times.
REFERENCE_STATS = DocumentStats(
    nodes=44_772, depth=14, fanout=392, chars=210_380, texts=14_956, element_total=8_604,
    attribute_total=8_196, longest_name=24, unlisted_name=40,
    elements={
        "capability": 1524, "{lshw}capability": 1524, "setting": 404, "{lshw}setting": 404,
        "node": 236, "{lshw}node": 236, "description": 232, "physid": 232,
        "{lshw}description": 232, "{lshw}physid": 232, "vendor": 200, "{lshw}vendor": 200,
        "product": 196, "{lshw}product": 196, "slot": 136, "{lshw}slot": 136, "capabilities": 116,
        "resource": 116, "{lshw}capabilities": 116, "{lshw}resource": 116, "size": 104,
        "{lshw}size": 104, "width": 96, "{lshw}width": 96, "clock": 92, "serial": 92,
        "{lshw}clock": 92, "{lshw}serial": 92, "version": 88, "{lshw}version": 88, "businfo": 84,
        "configuration": 84, "{lshw}businfo": 84, "{lshw}configuration": 84, "capacity": 68,
        "{lshw}capacity": 68, "logicalname": 60, "{lshw}logicalname": 60, "resources": 28,
        "{lldp}capability": 28, "{lshw}resources": 28, "{lldp}advertised": 24, "{lldp}descr": 24,
        "{lldp}id": 24, "{lldp}auto-negotiation": 12, "{lldp}chassis": 12, "{lldp}current": 12,
        "{lldp}interface": 12, "{lldp}mgmt-ip": 12, "{lldp}name": 12, "{lldp}port": 12,
        "{lldp}vlan": 12, "date": 4, "list": 4, "{lldp}device-type": 4, "{lldp}lldp": 4,
        "{lldp}lldp-med": 4, "{lldp}mfs": 4, "{lshw}date": 4, "{lshw}list": 4,
    },
    attributes={
        "id": 4328, "value": 1040, "units": 720, "claimed": 472, "class": 472, "handle": 472,
        "type": 308, "label": 212, "enabled": 36, "fd": 24, "hd": 24, "age": 12, "name": 12,
        "pvid": 12, "rid": 12, "supported": 12, "via": 12, "vlan-id": 12, "available": 4,
    },
    subtrees={
        "{lshw}node": 97780, "node": 80484, "list": 44764, "{lshw}list": 23748,
        "{lshw}capabilities": 8920, "capabilities": 7280, "{lshw}capability": 5524,
        "capability": 4000, "{lshw}configuration": 2676, "configuration": 2188,
        "{lshw}setting": 1616, "{lldp}lldp": 1456, "{lldp}interface": 1416, "setting": 1212,
        "{lshw}resources": 780, "{lshw}description": 696, "{lshw}physid": 696, "resources": 636,
        "{lshw}vendor": 600, "{lldp}port": 588, "{lshw}product": 588, "{lldp}chassis": 516,
        "description": 464, "physid": 464, "{lshw}resource": 464, "{lshw}size": 416,
        "{lshw}slot": 408, "vendor": 400, "product": 392, "{lshw}width": 384, "{lshw}clock": 368,
        "resource": 348, "{lldp}auto-negotiation": 336, "size": 312, "width": 288, "clock": 276,
        "{lshw}serial": 276, "slot": 272, "{lshw}capacity": 272, "{lshw}version": 264,
        "{lshw}businfo": 252, "capacity": 204, "serial": 184, "{lshw}logicalname": 180,
        "version": 176, "businfo": 168, "{lldp}advertised": 144, "{lldp}capability": 140,
        "logicalname": 120, "{lldp}id": 120, "{lldp}descr": 96, "{lldp}lldp-med": 68,
        "{lldp}vlan": 68, "{lldp}current": 48, "{lldp}mgmt-ip": 48, "{lldp}name": 48,
        "{lldp}device-type": 16, "{lldp}mfs": 16, "{lshw}date": 12, "date": 8,
    },
)


class InvalidTagDefinition(ValueError):
    """A definition that cannot be used; str() is the reason."""


class TagEvaluationError(InvalidTagDefinition):
    """A definition that cannot be evaluated over one particular document."""


@attrs.frozen
class CompiledTag:
    """A checked definition, ready to evaluate; ``xpath`` is None for a manual tag."""

    definition: str
    xpath: etree.XPath | None = attrs.field(default=None, eq=False)
    tree: tuple[Any, ...] | None = attrs.field(default=None, eq=False)

    @property
    def is_manual(self) -> bool:
        return self.xpath is None


@attrs.frozen
class TagDocument:
    """A node's merged details, with the sizes the cost bound needs."""

    tree: etree._ElementTree = attrs.field(eq=False)
    stats: DocumentStats


def compile_definition(xpath: str) -> CompiledTag:
    """Check a tag definition and prepare it for :func:`evaluate`.

    The empty string is a manual tag.

    :raises InvalidTagDefinition: with the reason, for a definition that is
        not valid XPath 1.0, uses what we cannot evaluate, or is too costly.
    """
    if xpath == "":
        return CompiledTag("")
    if len(xpath) > MAX_DEFINITION_LENGTH:
        raise InvalidTagDefinition(
            f"Expression longer than {MAX_DEFINITION_LENGTH} characters")
    try:
        compiled = etree.XPath(xpath, namespaces=NAMESPACES, smart_strings=False, regexp=False)
    except etree.XPathSyntaxError as error:
        raise InvalidTagDefinition(str(error) or "Invalid expression") from None
    try:
        tree = xpath_syntax.parse(xpath, NAMESPACES)
    except xpath_syntax.XPathError as error:
        raise InvalidTagDefinition(str(error)) from None
    cost = xpath_cost.estimate(tree, REFERENCE_STATS)
    if cost > MAX_COST:
        raise InvalidTagDefinition(
            f"Expression too costly to evaluate (up to {cost:.1e} steps over a large "
            f"machine's details; the limit is {MAX_COST:.0e})")
    tag = CompiledTag(xpath, compiled, tree)
    _result(tag, _empty_document())  # type errors show even without data
    return tag


def _empty_document() -> etree._ElementTree:
    return etree.ElementTree(etree.Element("list", nsmap=NAMESPACES))


def _qualified(root: etree._Element, namespace: str) -> etree._Element:
    """A copy of root with every unqualified element moved into namespace."""
    root = copy.deepcopy(root)
    for element in root.iter(tag=etree.Element):
        if etree.QName(element).namespace is None:
            element.tag = etree.QName(namespace, element.tag).text
    return root


def merge_details(lshw: bytes | None, lldp: bytes | None) -> TagDocument:
    """The document tag definitions are evaluated against (see the module
    docstring for the layout), from a node's lshw and LLDP XML."""
    details: dict[str, etree._Element] = {}
    for name, data in (("lldp", lldp), ("lshw", lshw)):
        if data is None or len(data) > MAX_DETAIL_BYTES:
            continue
        try:
            details[name] = parse_xml(data)
        except CommissioningDataError:
            continue
    if "lshw" in details:
        root = copy.deepcopy(details["lshw"])
    else:
        root = etree.Element("list", nsmap=NAMESPACES)
    for name in sorted(details):
        root.append(_qualified(details[name], NAMESPACES[name]))
    return TagDocument(etree.ElementTree(root), DocumentStats.of(root))


def _result(compiled: CompiledTag, tree: etree._ElementTree) -> bool:
    assert compiled.xpath is not None
    try:
        result = compiled.xpath(tree)
    except etree.XPathError as error:
        raise TagEvaluationError(str(error) or "Invalid expression") from None
    if isinstance(result, list):  # a node-set
        return len(result) > 0
    if isinstance(result, float):  # NaN and 0 are false
        return result == result and result != 0
    return bool(result)


def evaluate(compiled: CompiledTag, document: TagDocument | etree._ElementTree) -> bool:
    """Whether the document matches the definition, with XPath's boolean()
    semantics: a node-set is true when it is not empty, a number when it is
    neither zero nor NaN, a string when it is not empty.

    :raises TagEvaluationError: when the evaluation would cost more than
        :data:`MAX_COST` over this document, or fails (a type error).
    :raises ValueError: for a manual tag, which is never evaluated.
    """
    if compiled.xpath is None or compiled.tree is None:
        raise ValueError("a manual tag (empty definition) is never evaluated")
    if not isinstance(document, TagDocument):
        document = TagDocument(document, DocumentStats.of(document.getroot()))
    cost = xpath_cost.estimate(compiled.tree, document.stats)
    if cost > MAX_COST:
        raise TagEvaluationError(
            f"Expression too costly to evaluate over this node's details "
            f"(up to {cost:.1e} steps; the limit is {MAX_COST:.0e})")
    return _result(compiled, document.tree)
