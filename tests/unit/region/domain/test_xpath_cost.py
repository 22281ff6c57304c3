"""The XPath parser behind the cost bound, the document statistics, and the shape of the
estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from region.domain import xpath_cost
from region.domain.tags import NAMESPACES, merge_details
from region.domain.xpath_cost import DocumentStats
from region.domain.xpath_syntax import XPathError, parse

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "commissioning"

DESCENDANT_OR_SELF = ("descendant-or-self", ("type", "node"), ())


def test_double_slash_without_predicate_becomes_descendant() -> None:
    """Like libxml2, //x (descendant-or-self::node()/child::x) is read as descendant::x."""
    assert parse("//node", NAMESPACES) == (
        "path", "root", (("descendant", ("name", "node", False), ()),))


def test_double_slash_with_predicate_is_kept() -> None:
    """A predicate on the step keeps the two steps apart (positions would change)."""
    tree = parse("//node[1]", NAMESPACES)
    assert tree[2][0] == DESCENDANT_OR_SELF
    assert tree[2][1][0] == "child"


def test_prefixes_map_to_namespace_uris() -> None:
    """lldp:id names {lldp}id; an unknown prefix is refused."""
    assert parse("lldp:id", NAMESPACES)[2][0][1] == ("name", "{lldp}id", False)
    with pytest.raises(XPathError, match="Undefined namespace prefix"):
        parse("dmi:system", NAMESPACES)


@pytest.mark.parametrize(("lenient", "strict"), [
    ("1 div2", "1 div 2"),
    ("1 orx", "1 or x"),
    ("string(", "string()"),
    ("concat('a', 'b',", "concat('a', 'b')"),
    ("/ /node", "/node"),
    ("///node", "//node"),
])
def test_libxml2_leniencies_parse_like_their_strict_forms(lenient: str, strict: str) -> None:
    """Forms libxml2 accepts beyond the XPath grammar mean what libxml2 makes of them."""
    assert etree.XPath(lenient) is not None
    assert parse(lenient, NAMESPACES) == parse(strict, NAMESPACES)


@pytest.mark.parametrize(("expression", "reason"), [
    ("$x", "Undefined variable"),
    ("foo()", "Unregistered function"),
    ("substring('a')", "Invalid number of arguments"),
    ("//node[", "Invalid expression"),
    ("a:b:c", "Invalid expression"),
    ("(" * 33 + "1" + ")" * 33, "nests too deeply"),
])
def test_refusals(expression: str, reason: str) -> None:
    """What cannot run is refused with libxml2's wording."""
    with pytest.raises(XPathError, match=reason):
        parse(expression, NAMESPACES)


def test_statistics_match_what_xpath_counts() -> None:
    """Node totals, and the nodes below each element name, are exactly what XPath
    itself counts over a real document."""
    document = merge_details((DATA / "lshw-hp-m400-arm64.xml").read_bytes(),
                             (DATA / "lldp-hp-m400-arm64.xml").read_bytes())
    tree, stats = document.tree, document.stats
    assert stats.nodes == tree.xpath(
        "count(//node()) + count(//@*) + count(//namespace::*) + 1")
    assert stats.element_total == tree.xpath("count(//*)")
    assert stats.attribute_total == tree.xpath("count(//@*)")
    for name in ("node", "{lldp}interface", "capabilities"):
        below = sum(element.xpath(
            "count(.//node()) + count(descendant-or-self::*/@*)"
            " + count(descendant-or-self::*/namespace::*)")
            for element in tree.iter(name))
        assert stats.subtrees[name] == below, name
    # The document node, then the longest chain of elements.
    assert stats.depth == 1 + max(len(list(e.iterancestors())) + 1 for e in tree.iter())


def flat_stats(elements: int) -> DocumentStats:
    """Statistics of a flat document of elements named node, each with an id and text."""
    root = etree.Element("list")
    for index in range(elements):
        etree.SubElement(root, "node", id=str(index)).text = "t"
    return DocumentStats.of(root)


@pytest.mark.parametrize(("definition", "growth"), [
    ("count(//node)", 4),
    ("//node[@id = '7']", 4),
    ("count(//node[count(//node) > 1])", 16),
    ("//node/@id = //node/@id", 16),
])
def test_estimate_grows_with_the_shape_of_the_expression(definition: str, growth: int) -> None:
    """Quadrupling a document quadruples the bound of a linear expression and multiplies
    that of a quadratic one by about sixteen."""
    tree = parse(definition, NAMESPACES)
    ratio = xpath_cost.estimate(tree, flat_stats(4000)) / xpath_cost.estimate(
        tree, flat_stats(1000))
    assert growth * 0.7 <= ratio <= growth * 1.3


# -- the cost model's parser agrees with libxml2 -------------------------------------------

TOKENS = ["/", "//", "node", "@id", "'x'", "1", "2.5", "(", ")", "[", "]", "=", "!=", "<", ">=",
          "and", "or", "div", "mod", "*", "|", "+", "-", ",", ".", "..", "count(", "contains(",
          "not(", "text()", "node()", "lldp:id", "lshw:*", "child::", "descendant::",
          "ancestor::", "following-sibling::", "self::", "@*", "position()", "last()",
          "true()", "string(", "sum(", "1e3", "setting"]
SEMANTIC = {"Invalid number of arguments", "Unregistered function", "Undefined namespace prefix",
            "Undefined variable"}
SMALL = etree.ElementTree(etree.fromstring(
    b'<list xmlns:lldp="lldp" xmlns:lshw="lshw"><node id="a"><setting id="x">1</setting>'
    b'<node id="b">t</node></node><lldp:lldp><lldp:id type="mac">x</lldp:id></lldp:lldp>'
    b'<lshw:list><lshw:node id="a"/></lshw:list></list>'))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=9), st.sampled_from(["", " "]))
def test_cost_parser_accepts_exactly_what_libxml2_runs(tokens: list[str], sep: str) -> None:
    """Whatever libxml2 compiles and evaluates without error, the cost model parses (its
    leniencies included: "1 div2", "f(a," at the end, "///x"); and the cost model parses
    nothing libxml2 refuses to compile."""
    expression = sep.join(tokens)
    try:
        compiled = etree.XPath(expression, namespaces=NAMESPACES)
    except etree.XPathSyntaxError:
        libxml2_runs = libxml2_compiles = False
    else:
        libxml2_compiles = True
        try:
            compiled(SMALL)
            libxml2_runs = True
        except etree.XPathError:
            libxml2_runs = False
    try:
        parse(expression, NAMESPACES)
        ours, reason = True, ""
    except XPathError as error:
        ours, reason = False, str(error)
    if libxml2_runs:
        # We may refuse statically what libxml2 only refuses when it reaches it (say, a
        # wrong number of arguments behind a false "and"), but never on syntax.
        assert ours or reason in SEMANTIC, expression
    if ours:
        assert libxml2_compiles, expression
