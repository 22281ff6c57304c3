"""Tag definitions: validation, the merged details document, and bounded evaluation over
the machines in tests/data/commissioning."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from region.domain import xpath_cost, xpath_syntax
from region.domain.tags import (
    MAX_COST,
    MAX_DEFINITION_LENGTH,
    MAX_DETAIL_BYTES,
    NAMESPACES,
    REFERENCE_STATS,
    InvalidTagDefinition,
    TagDocument,
    TagEvaluationError,
    compile_definition,
    evaluate,
    merge_details,
)
from region.domain.xpath_cost import DocumentStats

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "commissioning"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture(scope="module")
def machines() -> dict[str, TagDocument]:
    return {
        "dl380": merge_details(data("lshw-hp-dl380-gen9.xml"), data("lldp-hp-dl380-gen9.xml")),
        "kvm": merge_details(data("lshw-qemu-kvm.xml"), None),
        "m400": merge_details(data("lshw-hp-m400-arm64.xml"), data("lldp-hp-m400-arm64.xml")),
        "pe1850": merge_details(data("lshw-dell-pe1850-precise.xml"), None),
    }


# -- validation --------------------------------------------------------------------------

def test_empty_definition_is_a_manual_tag() -> None:
    """'' is a manual tag: compiled to nothing, never evaluated."""
    tag = compile_definition("")
    assert tag.is_manual
    with pytest.raises(ValueError, match="manual"):
        evaluate(tag, merge_details(None, None))


@pytest.mark.parametrize(("definition", "reason"), [
    ("//node[", "Invalid expression"),
    ("node]", "Invalid expression"),
    ("  ", "Invalid expression"),
    ("//node[@id='memory']/size >", "Invalid expression"),
    ("1 + + 2", "Invalid expression"),
    ("//node[@id=$memory]", "Undefined variable"),
    ("//node[matches(@id, 'cpu')]", "Unregistered function"),
    ("//lshw:node[str:tokenize(@id)]", "Unregistered function"),
    ("//dmi:system", "Undefined namespace prefix"),
    ("concat('only one')", "Invalid number of arguments"),
    ("count()", "Invalid number of arguments"),
    ("count(1)", "Invalid type"),
    ("(1)[1]", "Invalid type"),
])
def test_invalid_definitions_give_libxml2s_reason(definition: str, reason: str) -> None:
    """Invalid XPath, and what could never evaluate, are refused with libxml2's wording
    (the API shows it as {"definition": ["Invalid xpath expression: <reason>"]})."""
    with pytest.raises(InvalidTagDefinition) as raised:
        compile_definition(definition)
    assert str(raised.value) == reason


def test_overlong_definition_is_refused() -> None:
    """Definitions are capped in length."""
    long_definition = " or ".join(["//node"] * (MAX_DEFINITION_LENGTH // 8))
    with pytest.raises(InvalidTagDefinition, match="longer than"):
        compile_definition(long_definition)


def test_deeply_nested_definition_is_refused_without_recursion_error() -> None:
    """Nesting that would exhaust Python's stack is an InvalidTagDefinition."""
    with pytest.raises(InvalidTagDefinition, match="nests too deeply"):
        compile_definition("(" * 40 + "1" + ")" * 40)
    with pytest.raises(InvalidTagDefinition):
        compile_definition("-" * 3000 + "1")


@pytest.mark.parametrize("definition", [
    "count(//*[count(//*) > 3])",  # every element, for every element
    "//node[contains(string(/), 'Xeon')]",  # the whole document's text, for every node
    "count(//*[preceding::*[@id = 'cpu:0']])",  # all that precedes, for every element
    "count(//*/following::*)",  # all that follows, merged for every element
])
def test_quadratic_definitions_are_refused_when_defined(definition: str) -> None:
    """Expressions whose work grows with the square of a large machine's details are
    refused when the tag is defined, naming the cost."""
    with pytest.raises(InvalidTagDefinition, match="too costly"):
        compile_definition(definition)


# -- the merged document -----------------------------------------------------------------

def test_merged_document_layout_with_both_details(machines: dict[str, TagDocument]) -> None:
    """lshw's root is the root, unqualified; then LLDP in the lldp namespace, then a second
    copy of lshw in the lshw namespace (1.8's layout)."""
    root = machines["dl380"].tree.getroot()
    assert root.tag == "list"
    assert [child.tag for child in root] == ["node", "{lldp}lldp", "{lshw}list"]
    assert root[0].get("id") == "dl380-r12-07"
    copy = root[2]
    assert {el.tag for el in copy.iter()} >= {"{lshw}list", "{lshw}node", "{lshw}setting"}
    assert all(etree.QName(el).namespace == "lshw" for el in copy.iter(tag=etree.Element))
    assert copy.find("{lshw}node").get("class") == "system"  # attributes stay unqualified


def test_old_lshw_without_list_root(machines: dict[str, TagDocument]) -> None:
    """lshw before B.02.16 has a <node> root, which becomes the document's root."""
    root = machines["pe1850"].tree.getroot()
    assert root.tag == "node"
    assert [child.tag for child in root][-1] == "{lshw}node"


def test_without_lshw_the_root_is_an_empty_list() -> None:
    """LLDP alone hangs under a bare <list>; no details at all give an empty <list/>."""
    root = merge_details(None, data("lldp-hp-m400-arm64.xml")).tree.getroot()
    assert root.tag == "list"
    assert [child.tag for child in root] == ["{lldp}lldp"]
    assert len(merge_details(None, None).tree.getroot()) == 0


@pytest.mark.parametrize("bad_lshw", [
    b"<list><node id='x'>",  # not well-formed
    b'<!DOCTYPE list [<!ENTITY e "x">]><list><node id="x">&e;</node></list>',  # a DOCTYPE
])
def test_unusable_details_are_left_out(bad_lshw: bytes) -> None:
    """Malformed or DOCTYPE-bearing lshw is ignored; the LLDP detail still counts."""
    document = merge_details(bad_lshw, data("lldp-hp-dl380-gen9.xml"))
    assert [child.tag for child in document.tree.getroot()] == ["{lldp}lldp"]
    assert evaluate(compile_definition("//lldp:chassis"), document)
    assert not evaluate(compile_definition("//node"), document)


def test_oversized_details_are_left_out() -> None:
    """Details over MAX_DETAIL_BYTES are not parsed at all."""
    padding = b" " * MAX_DETAIL_BYTES
    document = merge_details(b"<list><node id='x'/>" + padding + b"</list>", None)
    assert len(document.tree.getroot()) == 0


def test_document_statistics_count_every_node(machines: dict[str, TagDocument]) -> None:
    """The statistics behind the cost bound count exactly the nodes XPath can reach."""
    tree = machines["m400"].tree
    counted = tree.xpath("count(//node()) + count(//@*) + count(//namespace::*) + 1")
    assert machines["m400"].stats.nodes == counted
    assert machines["m400"].stats.elements["{lldp}chassis"] == 2


# -- evaluation over the shipped machines ------------------------------------------------

MACHINES = ("dl380", "kvm", "m400", "pe1850")


@pytest.mark.parametrize(("definition", "matching"), [
    # Memory: 1.8-style, on the "memory" node (the DL380 has memory:0/memory:1 instead).
    ('//node[@id="memory"]/size > 1024', {"kvm", "m400", "pe1850"}),
    # At least 128 GiB in banks of memory arrays.
    ('sum(//node[starts-with(@id, "memory:")]/node[starts-with(@id, "bank:")]/size)'
     ' div 1073741824 >= 128', {"dl380"}),
    # CPU counts: enabled processors on the motherboard (the PE1850's second socket is empty).
    ("count(//node[@id='core']/node[@class='processor'][not(@disabled)]) >= 2",
     {"dl380", "kvm", "m400"}),
    ("//node[@class='processor']/configuration/setting[@id='threads']/@value >= 16", {"dl380"}),
    # NIC vendors and models.
    ("//node[@class='network']/vendor = 'Intel Corporation'", {"dl380", "pe1850"}),
    ("//node[@class='network'][contains(product, '82599')]", {"dl380"}),
    ("//node[@class='network'][configuration/setting[@id='driver' and @value='mlx4_en']]",
     {"m400"}),
    # Virtual machines.
    ("//node[@class='system']/vendor = 'QEMU'", {"kvm"}),
    ("//capability[@id='hypervisor']", {"kvm"}),
    # Architecture-ish: ARM's Advanced SIMD.
    ("//node[@class='processor']/capabilities/capability[@id='asimd']", {"m400"}),
    # Disks over a terabyte.
    ("//node[@class='disk']/size > 1000000000000", {"dl380"}),
    # LLDP neighbours (the MAAS documentation's example form).
    ('//lldp:chassis/lldp:id[@type="mac"]/text() = "00:1b:d4:5e:a1:00"', {"dl380"}),
    ("//lldp:chassis[lldp:name = 'ex4300-moonshot-a']", {"m400"}),
    ("//lldp:interface[@name='eth4']/lldp:port/lldp:id = 'Ethernet12'", {"dl380"}),
    # The namespaced copy of lshw.
    ("//lshw:node[@id='memory']", {"kvm", "m400", "pe1850"}),
    # Results that are numbers or strings: true when non-zero / non-empty.
    ("count(//node[@class='network'])", set(MACHINES)),
    ("count(//node[@class='tape'])", set()),
    ("string(//node[@class='system']/product)", set(MACHINES)),
    ("string(//node[@class='tape'])", set()),
    ("number('many')", set()),
    ("1 div 0", set(MACHINES)),
])
def test_definitions_over_the_shipped_machines(
        machines: dict[str, TagDocument], definition: str, matching: set[str]) -> None:
    """Definitions an administrator would write match exactly the expected machines."""
    tag = compile_definition(definition)
    assert {name for name in MACHINES if evaluate(tag, machines[name])} == matching


def test_plain_lxml_trees_are_accepted() -> None:
    """evaluate takes an lxml tree too, measuring it on the spot."""
    tree = etree.ElementTree(etree.fromstring(data("lshw-qemu-kvm.xml")))
    assert evaluate(compile_definition("//node[@class='system']/vendor = 'QEMU'"), tree)


def test_compiled_tags_compare_by_definition() -> None:
    """Two compilations of one definition are equal (the lxml objects are not compared)."""
    assert compile_definition("//node") == compile_definition("//node")


# -- the bound -----------------------------------------------------------------------------

def deep_document(depth: int, text: int) -> etree._ElementTree:
    """A chain of nested elements, each with text: every string value is long."""
    root = element = etree.Element("list")
    for level in range(depth):
        element = etree.SubElement(element, "node", id=f"n{level}")
        element.text = "x" * text
    return etree.ElementTree(root)


def test_cheap_definition_refused_over_a_pathological_document() -> None:
    """A definition fine on real machines is refused, not run, over a document where it
    would be slow (250 nested elements of 4000 characters each: every string value is
    up to a megabyte long)."""
    tag = compile_definition("//node[contains(., 'needle')]")
    assert not evaluate(tag, TagDocument(*_with_stats(deep_document(20, 10))))
    with pytest.raises(TagEvaluationError, match="too costly"):
        evaluate(tag, TagDocument(*_with_stats(deep_document(250, 4000))))


def _with_stats(tree: etree._ElementTree) -> tuple[etree._ElementTree, DocumentStats]:
    return tree, DocumentStats.of(tree.getroot())


def test_realistic_definitions_are_far_below_the_budget(machines: dict[str, TagDocument]) -> None:
    """Typical definitions cost well under a hundredth of the budget on a real server."""
    for definition in ('//node[@id="memory"]/size > 1024',
                       "//node[@class='network']/vendor = 'Intel Corporation'",
                       '//lldp:chassis/lldp:id[@type="mac"] = "00:1b:d4:5e:a1:00"'):
        tree = xpath_syntax.parse(definition, NAMESPACES)
        assert xpath_cost.estimate(tree, machines["dl380"].stats) < MAX_COST / 100
        assert xpath_cost.estimate(tree, REFERENCE_STATS) < MAX_COST / 10
