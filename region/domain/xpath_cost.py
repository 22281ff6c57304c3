"""
An upper bound on the work libxml2 does to evaluate an XPath 1.0 expression.

Tag definitions are XPath written by administrators and evaluated over
documents written by machines, in the region's only thread.  libxml2 cannot
be interrupted once it starts, and XPath 1.0, though it has no loops, nests:
``count(//*[count(//*) > 3])`` visits n² nodes, one more nesting n³, and
``//a = //b`` compares every pair.  So before evaluating, we *estimate*: this
module parses the expression as libxml2 does (the XPath 1.0 grammar plus
libxml2's leniencies: exponents in numbers, ``1 div2``, ``f(a,`` at the end,
``///x``; and its rewrite of ``//x`` into ``descendant::x``) and computes a
conservative bound on the work over a document described by
:class:`DocumentStats`; :mod:`region.domain.tags` refuses to run an
expression whose bound exceeds its budget.

A node-set flowing through a path is described by its total size over all
runs (T), the most times one node occurs in it (m), and the node test its
nodes passed.  From a context set (T, m) each axis visits at most:

=====================================  ==============================  ===========
axis                                   visits                          new m
=====================================  ==============================  ===========
self                                   T                               m
child, attribute, namespace            min(T·F, m·n)                   m
parent                                 T                               min(T, m·F)
descendant(-or-self)                   min(T·n, m·B + T)               min(T, m·D)
ancestor(-or-self)                     T·D                             min(T, m·n)
following-/preceding-sibling           T·F                             min(T, m·F)
following, preceding                   T·n                             min(T, m·n)
=====================================  ==============================  ===========

(n nodes, D depth, F largest fan-out, B the nodes below all elements that
pass the context's node test.)  A node test then caps the set at the runs
times the nodes that can pass it, and predicates are evaluated once per
candidate.  A step taken from several context nodes in one run also pays
for libxml2 merging the results: a duplicate check of every new node against
those found so far (not on axes that cannot repeat a node) and a sort into
document order; a union pays the same check.  String values cost their
length (an element's is the text below it: at most S characters, S·D over
distinct elements); comparing two node-sets costs the pairs; ``contains``,
``translate`` and friends cost the product of their arguments' lengths
(libxml2 searches naively).

The units: one node visited; 2 characters handled; 8 pointer checks while
merging, 2 while forming a union, 4 pairs of values compared.  Measured
against libxml2 2.14 on pathological documents and expressions (flat, wide,
and 250-deep trees; quadratic predicates, following/preceding axes, unions,
node-set comparisons, string functions over megabyte strings), the bound
never fell below 1.2 x 10⁸ units per second of real evaluation, and usually
was 10 to 1000 times the real work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from region.domain.xpath_syntax import Expr

#: Characters per unit (string values, string functions).
CHARS_PER_UNIT = 2

#: Comparisons per unit, measured against steps along an axis: libxml2's
#: duplicate checks when merging the results of a step (cheap pointer
#: compares), when forming a union (dearer), and comparisons of node-set values.
MERGE_CHECKS_PER_UNIT = 8
UNION_CHECKS_PER_UNIT = 2
VALUE_PAIRS_PER_UNIT = 4

#: Node-set sizes are clamped here, so products of bounds stay finite.
_BIG = 1e30

# -- document statistics -----------------------------------------------------------


@attrs.frozen
class DocumentStats:
    """Sizes of a document: the inputs of the cost model."""

    nodes: int  # every node XPath can reach: elements, attributes, text, namespaces, ...
    depth: int  # the longest chain from the document node down, counting both ends
    fanout: int  # the most children + attributes + namespaces of one element
    chars: int  # characters of text, comments and attribute values
    texts: int  # text, comment and processing-instruction nodes
    element_total: int
    attribute_total: int
    elements: Mapping[str, int] = attrs.field(factory=dict)  # by Clark name
    attributes: Mapping[str, int] = attrs.field(factory=dict)  # by name
    #: For each element name, the nodes below all elements of that name, summed:
    #: what the descendant axis visits from every one of them.
    subtrees: Mapping[str, int] = attrs.field(factory=dict)
    longest_name: int = 64  # the longest element or attribute name, with its prefix
    #: How many nodes a name absent from the tables is assumed to match: 0
    #: for a real document; a typical share for a profile of an imagined one.
    unlisted_name: int = 0

    @classmethod
    def of(cls, root: Any) -> DocumentStats:
        """The statistics of the tree under root (an lxml element)."""
        elements: dict[str, int] = {}
        attributes: dict[str, int] = {}
        nodes = texts = chars = depth = fanout = attribute_total = 0
        order: list[tuple[Any, int, int]] = []  # (element, parent's index, own nodes)
        stack = [(root, 2, -1)]  # the document node is level 1
        while stack:
            element, level, parent = stack.pop()
            index = len(order)
            elements[element.tag] = elements.get(element.tag, 0) + 1
            for name, value in element.attrib.items():
                attributes[name] = attributes.get(name, 0) + 1
                chars += len(value)
            # Its attribute, namespace (the xml one included) and text nodes.
            own = len(element.attrib) + len(element.nsmap) + 1
            attribute_total += len(element.attrib)
            if element.text:
                own, texts, chars = own + 1, texts + 1, chars + len(element.text)
            width = own
            for child in element:
                width += 1
                if child.tail:
                    own, texts, chars = own + 1, texts + 1, chars + len(child.tail)
                if isinstance(child.tag, str):
                    stack.append((child, level + 1, index))
                else:  # a comment or processing instruction
                    own, texts, chars = own + 1, texts + 1, chars + len(child.text or "")
            order.append((element, parent, own))
            nodes += 1 + own
            depth, fanout = max(depth, level), max(fanout, width + own - len(element.attrib))
        below = [own for _, _, own in order]  # nodes below each element
        subtrees: dict[str, int] = {}
        for index in range(len(order) - 1, -1, -1):  # children before their parents
            element, parent, _ = order[index]
            subtrees[element.tag] = subtrees.get(element.tag, 0) + below[index]
            if parent >= 0:
                below[parent] += 1 + below[index]
        longest_name = 1
        for name in (*elements, *attributes):
            prefix = 8  # the longest prefix a name can be shown with here ("lldp", "lshw")
            longest_name = max(longest_name, len(name.rpartition("}")[2]) + prefix)
        return cls(nodes=nodes + 1, depth=depth, fanout=fanout, chars=max(chars, 1), texts=texts,
                   element_total=sum(elements.values()), attribute_total=attribute_total,
                   elements=elements, attributes=attributes, subtrees=subtrees,
                   longest_name=longest_name)


# -- the estimate ------------------------------------------------------------------------


@attrs.frozen
class _Value:
    """What the estimator knows of a (sub)expression's results over all its runs."""

    cost: float
    total: float = 0.0  # node-set: occurrences over all runs
    mult: float = 0.0  # node-set: most occurrences of one node
    leaf: bool = False  # node-set of attributes/text only (short string values)
    nodeset: bool = False
    chars: float = 0.0  # scalar: characters of its string form, summed over runs
    length: float = 0.0  # scalar: longest string form in one run
    test: tuple[Any, ...] | None = None  # node-set: the node test all its nodes passed


def _scalar(cost: float, runs: float, length: float = 32.0) -> _Value:
    """A number or boolean (or a string at most length long) computed once per run."""
    return _Value(cost, chars=runs * length, length=length)


class _Estimator:
    def __init__(self, stats: DocumentStats) -> None:
        self.s = stats
        self.n, self.d, self.f = float(stats.nodes), float(stats.depth), float(stats.fanout)
        self.doc_chars = float(stats.chars)

    def passing(self, test: tuple[Any, ...]) -> float:
        """How many nodes of the document can pass a node test."""
        s = self.s
        if test[0] == "type":
            return self.n if test[1] == "node" else float(s.texts)
        _, name, attribute = test
        table = s.attributes if attribute else s.elements
        if name is None:
            return float(s.attribute_total if attribute else s.element_total)
        if name.endswith("}*"):  # prefix:*
            listed = sum(count for key, count in table.items() if key.startswith(name[:-1]))
            return float(listed + s.unlisted_name)
        return float(table.get(name, s.unlisted_name))

    def below(self, test: tuple[Any, ...] | None) -> float:
        """Nodes below all the document's nodes that pass test (n·D when unknown)."""
        s = self.s
        if test == ("root",):
            return self.n
        if test is None or test[0] != "name" or test[2]:
            return self.n * self.d
        if test[1] is None:
            return float(sum(s.subtrees.values()))
        if test[1].endswith("}*"):
            return self.n * self.d
        return float(s.subtrees.get(test[1], s.unlisted_name * self.n * self.d / max(
            s.element_total, 1)))

    def axis(self, axis: str, total: float, mult: float,
             test: tuple[Any, ...] | None = None) -> tuple[float, float]:
        """Visits of an axis step from a context multiset whose nodes all passed
        test, and the new multiplicity."""
        n, d, f = self.n, self.d, self.f
        total, mult = min(total, _BIG), min(mult, _BIG)
        if axis == "self":
            return total, mult
        if axis in ("child", "attribute", "namespace"):
            return min(total * f, mult * n), mult
        if axis == "parent":
            return total, min(total, mult * f)
        if axis in ("descendant", "descendant-or-self"):
            return min(total * n, mult * self.below(test) + total), min(total, mult * d)
        if axis in ("ancestor", "ancestor-or-self"):
            return total * d, min(total, mult * n)
        if axis in ("following-sibling", "preceding-sibling"):
            return total * f, min(total, mult * f)
        return total * n, min(total, mult * n)  # following, preceding

    def all_chars(self, value: _Value) -> float:
        """Characters of the string values of every node of a node-set, over all runs."""
        per_node = value.mult * self.doc_chars * (1 if value.leaf else self.d)
        return min(value.total * self.doc_chars, per_node)

    def as_string(self, value: _Value, runs: float) -> tuple[float, float, float]:
        """(cost, chars over all runs, longest) of converting a value to a string
        (or number) once per run; a node-set converts its first node."""
        if value.nodeset:
            chars = min(runs * self.doc_chars, self.all_chars(value))
            return chars / CHARS_PER_UNIT, chars, self.doc_chars
        return value.chars / CHARS_PER_UNIT, value.chars, value.length

    def path(self, expr: Expr, runs: float, context: _Value) -> _Value:
        _, start, steps = expr
        cost = 0.0
        one_per_run = True  # at most one context node per run: nothing to merge
        if start == "root":
            total = mult = runs
            known: tuple[Any, ...] | None = ("root",)
        elif start == "context":
            total, mult, known = context.total, context.mult, context.test
        else:
            value = self.eval(start, runs, context)
            cost, total, mult = value.cost, min(value.total, _BIG), min(value.mult, _BIG)
            known, one_per_run = value.test, False
        leaf = False
        for axis, test, predicates in steps:
            visits, mult = self.axis(axis, total, mult, known)
            passing = self.passing(test)
            cost += visits
            candidates = min(visits, mult * passing)
            for predicate in predicates:
                candidate = _Value(0.0, candidates, mult, nodeset=True, test=test)
                cost += self.eval(predicate, candidates, candidate).cost
            if not one_per_run:
                cost += self.merge(axis, candidates, passing)
            total = min(candidates, runs * passing)
            mult = min(mult, runs, total)
            one_per_run = one_per_run and axis == "self"
            if axis != "self" or test != ("type", "node"):
                known = test
            leaf = axis in ("attribute", "namespace") or (test[0] == "type" and test[1] != "node")
        return _Value(cost, total, mult, leaf, nodeset=True, test=known)

    def merge(self, axis: str, candidates: float, passing: float) -> float:
        """Merging the results of a step taken from several context nodes:
        libxml2 checks each new node against all those found so far, except on
        axes that cannot find a node twice; then it sorts the set into document
        order (comparisons walk up the tree)."""
        sort = candidates * math.log2(candidates + 2) * self.d
        if axis in ("child", "attribute", "namespace", "self"):
            return sort
        return sort + candidates * min(passing, candidates) / MERGE_CHECKS_PER_UNIT

    def eval(self, expr: Expr, runs: float, context: _Value) -> _Value:
        kind = expr[0]
        if kind == "number":
            return _scalar(runs, runs)
        if kind == "literal":
            return _scalar(runs, runs, float(expr[1]))
        if kind == "path":
            return self.path(expr, runs, context)
        if kind == "filter":
            value = self.eval(expr[1], runs, context)
            cost = value.cost
            for predicate in expr[2]:
                cost += self.eval(predicate, value.total, attrs.evolve(value, cost=0.0)).cost
            return attrs.evolve(value, cost=cost)
        if kind == "union":
            # Each part is merged into the union so far, checking for duplicates.
            parts = [self.eval(part, runs, context) for part in expr[1]]
            cost, so_far = parts[0].cost, parts[0].total
            for part in parts[1:]:
                checks = min(so_far * min(self.n, part.total), part.total * min(self.n, so_far))
                cost += part.cost + checks / UNION_CHECKS_PER_UNIT
                so_far += part.total
            total = min(so_far, runs * self.n)
            cost += total * math.log2(total + 2) * self.d
            return _Value(cost, total,
                          min(sum(p.mult for p in parts), runs), all(p.leaf for p in parts),
                          nodeset=True)
        if kind == "negate":
            value = self.eval(expr[1], runs, context)
            return _scalar(value.cost + self.as_string(value, runs)[0], runs)
        if kind == "binary":
            return self.binary(expr, runs, context)
        return self.function(expr, runs, context)

    def binary(self, expr: Expr, runs: float, context: _Value) -> _Value:
        _, op, left_expr, right_expr = expr
        left, right = self.eval(left_expr, runs, context), self.eval(right_expr, runs, context)
        cost = left.cost + right.cost
        if op in ("and", "or"):
            return _scalar(cost, runs, 5.0)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if left.nodeset and right.nodeset:
                pairs = min(left.total * min(self.n, right.total),
                            right.total * min(self.n, left.total))
                strings = self.all_chars(left) + self.all_chars(right)
                cost += pairs / VALUE_PAIRS_PER_UNIT + strings / CHARS_PER_UNIT
            elif left.nodeset or right.nodeset:
                nodes, scalar = (left, right) if left.nodeset else (right, left)
                strings = self.all_chars(nodes)
                cost += nodes.total + (strings + min(nodes.total * scalar.length, strings)
                                       + scalar.chars) / CHARS_PER_UNIT
            else:
                cost += (left.chars + right.chars) / CHARS_PER_UNIT
            return _scalar(cost, runs, 5.0)
        cost += self.as_string(left, runs)[0] + self.as_string(right, runs)[0]
        return _scalar(cost, runs)

    def function(self, expr: Expr, runs: float, context: _Value) -> _Value:
        _, name, arg_exprs = expr
        args = [self.eval(arg, runs, context) for arg in arg_exprs]
        if not args and name in ("string", "normalize-space", "string-length", "number",
                                 "local-name", "name", "namespace-uri"):
            args = [attrs.evolve(context, cost=0.0)]
        cost = runs + sum(arg.cost for arg in args)
        if name in ("last", "position", "true", "false", "count", "boolean", "not"):
            return _scalar(cost, runs)
        if name in ("local-name", "name", "namespace-uri"):
            return _scalar(cost, runs, float(self.s.longest_name))
        if name == "sum":
            nodes = args[0]
            return _scalar(cost + nodes.total + self.all_chars(nodes) / CHARS_PER_UNIT, runs)
        if name == "id":
            arg = args[0]
            chars = self.all_chars(arg) if arg.nodeset else arg.chars
            return _Value(cost + chars / CHARS_PER_UNIT, runs * self.n, runs, nodeset=True)
        strings = [self.as_string(arg, runs) for arg in args]
        cost += sum(conversion for conversion, _, _ in strings)
        chars = [c for _, c, _ in strings]
        longest = [length for _, _, length in strings]
        if name == "lang":
            return _scalar(cost + runs * self.d, runs)
        if name in ("contains", "substring-before", "substring-after", "translate"):
            # libxml2 searches naively: the product of the lengths, run by run.
            work = min(chars[0] * longest[1], longest[0] * chars[1]) + sum(chars)
        else:
            work = sum(chars)
        cost += work / CHARS_PER_UNIT
        if name == "concat":
            return _Value(cost, chars=sum(chars), length=sum(longest))
        if name in ("string", "normalize-space", "substring", "substring-before",
                    "substring-after", "translate"):
            return _Value(cost, chars=chars[0], length=longest[0])
        return _scalar(cost, runs)  # numbers and booleans


def estimate(expr: Expr, stats: DocumentStats) -> float:
    """An upper bound on the work (in node visits) of evaluating expr once,
    from the document root, over a document with these statistics."""
    root = _Value(0.0, 1.0, 1.0, nodeset=True)
    return min(_Estimator(stats).eval(expr, 1.0, root).cost, _BIG)

