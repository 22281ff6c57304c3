"""
An upper bound on the work libxml2 does to evaluate an XPath 1.0 expression.

Tag definitions are XPath written by administrators and evaluated over
documents written by machines, in the region's only thread.  libxml2 cannot
be interrupted once it starts, and XPath 1.0, though it has no loops, nests:
``count(//*[count(//*) > 3])`` visits n² nodes, one more nesting n³, and
``//a = //b`` compares every pair.  So before evaluating, we *estimate*: this
module parses the expression (the XPath 1.0 grammar, with libxml2's leniency
for exponents in numbers) and computes a conservative bound on the work for
a document described by :class:`DocumentStats`; :mod:`region.domain.tags`
refuses to run an expression whose bound exceeds its budget.

The model counts *node visits* and *characters* (4 characters = 1 unit).
A node-set flowing through a path is described by its total size over all
evaluations (T) and the most times one node occurs in it (m); from a
context set (T, m) each axis visits at most:

=====================================  ==============================  ===========
axis                                   visits                          new m
=====================================  ==============================  ===========
self                                   T                               m
child, attribute, namespace            min(T·F, m·n)                   m
parent                                 T                               min(T, m·F)
descendant(-or-self)                   min(T·n, m·n·D)                 min(T, m·D)
ancestor(-or-self)                     T·D                             min(T, m·n)
following-/preceding-sibling           T·F                             min(T, m·F)
following, preceding                   T·n                             min(T, m·n)
=====================================  ==============================  ===========

(n nodes, D depth, F largest fan-out.)  A node test then caps the set at E
times the number of nodes that can pass it (E = evaluations of the path),
and predicates are evaluated once per surviving candidate.  String values
cost their length (a node's string value is its text, an element's the text
below it: at most S characters, and at most S·D over distinct elements);
node-set comparisons cost the pairs compared; ``contains``, ``translate``
and friends cost the product of their arguments' lengths (libxml2 searches
naively).  Every bound is a product of true upper bounds, so the estimate
never undercounts; it may overcount a lot, which only matters near the
budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
from lxml import etree

CHARS_PER_UNIT = 4

#: Deepest nesting of parentheses and predicates we parse (libxml2 allows
#: more, but no tag definition needs more than a handful).
MAX_NESTING = 32

#: Node-set sizes are clamped here, so products of bounds stay finite.
_BIG = 1e30

AXES = frozenset({
    "ancestor", "ancestor-or-self", "attribute", "child", "descendant", "descendant-or-self",
    "following", "following-sibling", "namespace", "parent", "preceding", "preceding-sibling",
    "self"})
NODE_TYPES = frozenset({"comment", "text", "processing-instruction", "node"})

#: XPath 1.0's core functions: name → (fewest, most) arguments (None: any number).
FUNCTIONS: Mapping[str, tuple[int, int | None]] = {
    "last": (0, 0), "position": (0, 0), "count": (1, 1), "id": (1, 1),
    "local-name": (0, 1), "namespace-uri": (0, 1), "name": (0, 1), "string": (0, 1),
    "concat": (2, None), "starts-with": (2, 2), "contains": (2, 2),
    "substring-before": (2, 2), "substring-after": (2, 2), "substring": (2, 3),
    "string-length": (0, 1), "normalize-space": (0, 1), "translate": (3, 3),
    "boolean": (1, 1), "not": (1, 1), "true": (0, 0), "false": (0, 0), "lang": (1, 1),
    "number": (0, 1), "sum": (1, 1), "floor": (1, 1), "ceiling": (1, 1), "round": (1, 1),
}


class XPathError(ValueError):
    """An expression that is not XPath 1.0 we can evaluate; the message is
    libxml2's wording for the same problem."""


# -- tokens ------------------------------------------------------------------------

_NAME = r"[A-Za-z_\u00c0-\uffff][\w.\-\u00b7-\uffff]*"
_TOKEN = re.compile(rf"""
    (?P<literal>"[^"]*"|'[^']*')
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<symbol>//|::|\.\.|!=|<=|>=|[/()\[\]@,|+\-=<>*.])
  | (?P<variable>\$(?:{_NAME}:)?{_NAME})
  | (?P<name>{_NAME}(?::(?:{_NAME}|\*))?)
""", re.VERBOSE)
_SPACE = re.compile(r"[ \t\r\n]*")
#: After these symbols an operand is expected, so ``*`` is a name test and
#: ``div`` a name (XPath 1.0 §3.7); after anything else, an operator.
_OPERAND_FOLLOWS = frozenset({"@", "::", "(", "[", ",", "/", "//", "|", "+", "-", "=", "!=",
                              "<", "<=", ">", ">="})


def tokenise(text: str) -> list[tuple[str, str]]:
    """(kind, value) tokens, disambiguated as XPath 1.0 §3.7 says: kind is
    literal, number, symbol, variable, operator (and/or/div/mod/*mul),
    function, nodetype, axis or nametest."""
    tokens: list[tuple[str, str]] = []
    position = _SPACE.match(text).end()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise XPathError("Invalid expression")
        kind, value = match.lastgroup or "", match.group()
        position = _SPACE.match(text, match.end()).end()
        operator_expected = bool(tokens) and tokens[-1][0] != "operator" and not (
            tokens[-1][0] == "symbol" and tokens[-1][1] in _OPERAND_FOLLOWS)
        if kind == "symbol" and value == "*":
            kind, value = ("operator", "*mul") if operator_expected else ("nametest", "*")
        elif kind == "name":
            if operator_expected:
                if value not in ("and", "or", "mod", "div"):
                    raise XPathError("Invalid expression")
                kind = "operator"
            elif text.startswith("(", position):
                kind = "nodetype" if value in NODE_TYPES else "function"
            elif text.startswith("::", position):
                kind = "axis"
            else:
                kind = "nametest"
        tokens.append((kind, value))
    return tokens


# -- syntax tree -----------------------------------------------------------------------
# Expressions are tuples: ("number",), ("literal", length), ("function", name, args),
# ("binary", op, left, right), ("negate", expr), ("union", parts),
# ("filter", primary, predicates) and ("path", start, steps), where start is
# "root", "context" or an expression, and a step is (axis, test, predicates)
# with test ("name", clark-name | None for *, attribute?) or ("type", node-type).

Expr = tuple[Any, ...]
_DESCENDANT_OR_SELF = ("descendant-or-self", ("type", "node"), ())


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], namespaces: Mapping[str, str]) -> None:
        self.tokens, self.at, self.namespaces = tokens, 0, namespaces

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, *values: str) -> str:
        kind, value = self.peek()
        if values and value not in values:
            raise XPathError("Invalid expression")
        if kind == "end":
            raise XPathError("Invalid expression")
        self.at += 1
        return value

    def accept(self, *values: str) -> str | None:
        """Take the next token if it is one of these operators or symbols."""
        kind, value = self.peek()
        return self.take() if kind in ("operator", "symbol") and value in values else None

    def parse(self) -> Expr:
        expr = self.binary(0)
        if self.peek()[0] != "end":
            raise XPathError("Invalid expression")
        return expr

    _LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"),
               ("*mul", "div", "mod"))

    def binary(self, level: int) -> Expr:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.accept(*self._LEVELS[level])) is not None:
            left = ("binary", op, left, self.binary(level + 1))
        return left

    def unary(self) -> Expr:
        if self.peek() == ("symbol", "-"):
            self.take()
            return ("negate", self.unary())
        parts = [self.path()]
        while self.peek() == ("symbol", "|"):
            self.take()
            parts.append(self.path())
        return parts[0] if len(parts) == 1 else ("union", tuple(parts))

    def starts_step(self) -> bool:
        kind, value = self.peek()
        return kind in ("nametest", "nodetype", "axis") or (
            kind == "symbol" and value in ("@", ".", ".."))

    def path(self) -> Expr:
        kind, value = self.peek()
        if kind == "symbol" and value == "/":
            self.take()
            return ("path", "root", self.steps() if self.starts_step() else ())
        if kind == "symbol" and value == "//":
            self.take()
            return ("path", "root", (_DESCENDANT_OR_SELF, *self.steps()))
        if self.starts_step():
            return ("path", "context", self.steps())
        primary = self.primary()
        predicates = self.predicates()
        expr = ("filter", primary, predicates) if predicates else primary
        if self.peek() in (("symbol", "/"), ("symbol", "//")):
            descend = self.take() == "//"
            steps = self.steps()
            return ("path", expr, (_DESCENDANT_OR_SELF, *steps) if descend else steps)
        return expr

    def steps(self) -> tuple[Any, ...]:
        steps = [self.step()]
        while self.peek() in (("symbol", "/"), ("symbol", "//")):
            if self.take() == "//":
                steps.append(_DESCENDANT_OR_SELF)
            steps.append(self.step())
        return tuple(steps)

    def step(self) -> tuple[Any, ...]:
        if self.accept("."):
            return ("self", ("type", "node"), ())
        if self.accept(".."):
            return ("parent", ("type", "node"), ())
        axis = "child"
        if self.accept("@"):
            axis = "attribute"
        elif self.peek()[0] == "axis":
            axis = self.take()
            if axis not in AXES:
                raise XPathError("Invalid expression")
            self.take("::")
        return (axis, self.node_test(axis), self.predicates())

    def node_test(self, axis: str) -> tuple[Any, ...]:
        kind, value = self.peek()
        if kind == "nametest":
            self.take()
            if value == "*":
                return ("name", None, axis == "attribute")
            prefix, _, local = value.rpartition(":")
            if prefix and prefix not in self.namespaces:
                raise XPathError("Undefined namespace prefix")
            uri = self.namespaces.get(prefix) if prefix else None
            name = None if local == "*" and uri is None else (
                f"{{{uri}}}{local}" if uri is not None else local)
            return ("name", name, axis == "attribute")
        if kind == "nodetype":
            self.take()
            self.take("(")
            if value == "processing-instruction" and self.peek()[0] == "literal":
                self.take()
            self.take(")")
            return ("type", value)
        raise XPathError("Invalid expression")

    def predicates(self) -> tuple[Expr, ...]:
        found = []
        while self.peek() == ("symbol", "["):
            self.take()
            found.append(self.binary(0))
            self.take("]")
        return tuple(found)

    def primary(self) -> Expr:
        kind, value = self.peek()
        if kind == "variable":
            raise XPathError("Undefined variable")
        if kind == "literal":
            self.take()
            return ("literal", len(value) - 2)
        if kind == "number":
            self.take()
            return ("number",)
        if kind == "symbol" and value == "(":
            self.take()
            expr = self.binary(0)
            self.take(")")
            return expr
        if kind == "function":
            self.take()
            self.take("(")
            args: list[Expr] = []
            if self.peek() != ("symbol", ")"):
                args.append(self.binary(0))
                while self.accept(","):
                    args.append(self.binary(0))
            self.take(")")
            if value not in FUNCTIONS:
                raise XPathError("Unregistered function")
            fewest, most = FUNCTIONS[value]
            if len(args) < fewest or (most is not None and len(args) > most):
                raise XPathError("Invalid number of arguments")
            return ("function", value, tuple(args))
        raise XPathError("Invalid expression")


def parse(expression: str, namespaces: Mapping[str, str]) -> Expr:
    """The syntax tree of an XPath 1.0 expression.

    :raises XPathError: for anything libxml2 would refuse to compile or to
        evaluate with these namespaces and no variables or extensions.
    """
    tokens = tokenise(expression)
    depth = deepest = 0
    for kind, value in tokens:
        if kind == "symbol" and value in ("(", "["):
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "symbol" and value in (")", "]"):
            depth -= 1
    if deepest > MAX_NESTING:
        raise XPathError("Expression nests too deeply")
    try:
        return _Parser(tokens, namespaces).parse()
    except RecursionError:  # e.g. thousands of unary minus signs
        raise XPathError("Expression nests too deeply") from None


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
        longest_name = 1
        stack = [(root, 2)]  # the document node is level 1
        while stack:
            element, level = stack.pop()
            elements[element.tag] = elements.get(element.tag, 0) + 1
            for name, value in element.attrib.items():
                attributes[name] = attributes.get(name, 0) + 1
                chars += len(value)
            own = len(element.attrib) + len(element.nsmap) + 1  # + the xml namespace
            attribute_total += len(element.attrib)
            if element.text:
                own, texts, chars = own + 1, texts + 1, chars + len(element.text)
            for child in element:
                own += 1 + (1 if child.tail else 0)
                if child.tail:
                    texts, chars = texts + 1, chars + len(child.tail)
                if isinstance(child.tag, str):
                    stack.append((child, level + 1))
                else:  # a comment or processing instruction
                    texts, chars = texts + 1, chars + len(child.text or "")
            nodes += 1 + own
            depth, fanout = max(depth, level), max(fanout, own)
        for name in (*elements, *attributes):
            prefix = 8  # the longest prefix a name can be shown with here ("lldp", "lshw")
            longest_name = max(longest_name, len(name.rpartition("}")[2]) + prefix)
        return cls(nodes=nodes + 1, depth=depth, fanout=fanout, chars=max(chars, 1), texts=texts,
                   element_total=sum(elements.values()), attribute_total=attribute_total,
                   elements=elements, attributes=attributes, longest_name=longest_name)


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

    def axis(self, axis: str, total: float, mult: float) -> tuple[float, float]:
        """Visits of an axis step from a context multiset, and the new multiplicity."""
        n, d, f = self.n, self.d, self.f
        total, mult = min(total, _BIG), min(mult, _BIG)
        if axis == "self":
            return total, mult
        if axis in ("child", "attribute", "namespace"):
            return min(total * f, mult * n), mult
        if axis == "parent":
            return total, min(total, mult * f)
        if axis in ("descendant", "descendant-or-self"):
            return min(total * n, mult * n * d), min(total, mult * d)
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
        if start == "root":
            total = mult = runs
        elif start == "context":
            total, mult = context.total, context.mult
        else:
            value = self.eval(start, runs, context)
            cost, total, mult = value.cost, min(value.total, _BIG), min(value.mult, _BIG)
        leaf = False
        for axis, test, predicates in steps:
            visits, mult = self.axis(axis, total, mult)
            cost += visits
            candidates = min(visits, mult * self.passing(test))
            for predicate in predicates:
                candidate = _Value(0.0, candidates, mult, nodeset=True)
                cost += self.eval(predicate, candidates, candidate).cost
            total = min(candidates, runs * self.passing(test))
            mult = min(mult, runs, total)
            leaf = axis in ("attribute", "namespace") or (test[0] == "type" and test[1] != "node")
        return _Value(cost, total, mult, leaf, nodeset=True)

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
            parts = [self.eval(part, runs, context) for part in expr[1]]
            total = min(sum(p.total for p in parts), runs * self.n)
            sort = total * math.log2(total + 2)
            return _Value(sum(p.cost for p in parts) + sort, total,
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
                cost += pairs + (self.all_chars(left) + self.all_chars(right)) / CHARS_PER_UNIT
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


def stats_of(document: etree._ElementTree) -> DocumentStats:
    """:meth:`DocumentStats.of` the root of an lxml tree."""
    return DocumentStats.of(document.getroot())
