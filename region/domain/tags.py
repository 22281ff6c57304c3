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
upper bound on the node visits an expression needs over a given document;
:func:`evaluate` refuses (:class:`TagEvaluationError`) when that bound
exceeds :data:`MAX_COST` (10⁷ visits: about half a second of libxml2 on
one core in the worst case, typically a few milliseconds), and
:func:`compile_definition` refuses expressions whose bound exceeds it for
:data:`REFERENCE_STATS`, a large commissioned server.  Ordinary definitions
cost a few visits per node of the document.  XPath runs without "smart
strings" (results are plain ``str``, not linked back to the tree) and without
EXSLT regular expressions.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
from lxml import etree

from region.domain import xpath_cost
from region.domain.commissioning import CommissioningDataError, parse_xml
from region.domain.xpath_cost import DocumentStats

#: Prefix → namespace URI of the details, as 1.8 named them.
NAMESPACES = {"lldp": "lldp", "lshw": "lshw"}

#: The most work (estimated node visits) one evaluation may take.
MAX_COST = 10_000_000

#: The longest definition accepted, in characters.
MAX_DEFINITION_LENGTH = 4096

#: Details larger than this are left out of the document (lshw of a large
#: server is a few hundred KiB).
MAX_DETAIL_BYTES = 8 * 1024 * 1024

#: A large commissioned machine: the details of a four-socket server with a
#: few dozen disks and NICs (about 4x the lshw of our two-socket test
#: server), with every element or attribute name assumed to occur 2000 times.
REFERENCE_STATS = DocumentStats(
    nodes=40_000, depth=12, fanout=120, chars=300_000, texts=9_000, element_total=9_000,
    attribute_total=14_000, unlisted_name=2_000)


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
        tree = xpath_cost.parse(xpath, NAMESPACES)
    except xpath_cost.XPathError as error:
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
