"""
XPath 1.0 expressions parsed as libxml2 parses them, for estimating their cost.

lxml (libxml2) compiles and runs tag definitions; this parser exists so that
:mod:`region.domain.xpath_cost` can see an expression's structure.  It must
therefore accept what libxml2 accepts, leniencies included: exponents in
numbers (``1e3``), an operator name glued to what follows (``1 div2``,
``1 orx``), a function call left open at the very end (``f(``, ``f(a,``),
extra slashes (``/ /x``, ``///x``); and it mirrors libxml2's rewrite of
``descendant-or-self::node()/child::x`` (``//x`` without predicates) into
``descendant::x``.  A property test checks it against libxml2 on random
expressions.  Beyond libxml2, it refuses what could only fail when run:
variables (none are ever bound), functions outside XPath 1.0's core library,
wrong numbers of arguments, and unknown namespace prefixes.

The tree is made of tuples: ``("number",)``, ``("literal", length)``,
``("function", name, args)``, ``("binary", op, left, right)``,
``("negate", expr)``, ``("union", parts)``, ``("filter", primary,
predicates)`` and ``("path", start, steps)``, where start is ``"root"``,
``"context"`` or an expression, and a step is ``(axis, test, predicates)``
with test ``("name", clark-name or None for *, on the attribute axis?)`` or
``("type", node-type)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Deepest nesting of parentheses and predicates we parse (libxml2 allows
#: more, but no tag definition needs more than a handful).
MAX_NESTING = 32

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
                # libxml2 takes an operator name glued to what follows ("1 div2",
                # "1 orx") as the operator and starts the next token after it.
                operator = next((op for op in ("and", "or", "mod", "div")
                                 if value.startswith(op)), None)
                if operator is None:
                    raise XPathError("Invalid expression")
                tokens.append(("operator", operator))
                position = _SPACE.match(text, match.start() + len(operator)).end()
                continue
            elif text.startswith("(", position):
                kind = "nodetype" if value in NODE_TYPES else "function"
            elif text.startswith("::", position):
                kind = "axis"
            else:
                kind = "nametest"
        tokens.append((kind, value))
    return tokens


# -- syntax tree --------------------------------------------------------------

Expr = tuple[Any, ...]
_DESCENDANT_OR_SELF = ("descendant-or-self", ("type", "node"), ())


def _rewrite(steps: tuple[Any, ...]) -> tuple[Any, ...]:
    """libxml2's rewrite (``xmlXPathOptimizeExpression``) of
    ``descendant-or-self::node()`` followed by a step without predicates:
    ``//x`` becomes ``descendant::x``, ``//self::x`` ``descendant-or-self::x``."""
    out: list[Any] = []
    for step in steps:
        axis, test, predicates = step
        if out and out[-1] == _DESCENDANT_OR_SELF and not predicates:
            if axis in ("child", "descendant"):
                out[-1] = ("descendant", test, ())
                continue
            if axis in ("self", "descendant-or-self"):
                out[-1] = ("descendant-or-self", test, ())
                continue
        out.append(step)
    return tuple(out)


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
            while self.peek() == ("symbol", "/"):  # libxml2 reads "/ /" as "/"
                self.take()
            if self.peek() == ("symbol", "//"):
                self.take()
                return ("path", "root", _rewrite((_DESCENDANT_OR_SELF, *self.relative())))
            return ("path", "root", _rewrite(self.steps()) if self.starts_step() else ())
        if kind == "symbol" and value == "//":
            self.take()
            return ("path", "root", _rewrite((_DESCENDANT_OR_SELF, *self.relative())))
        if self.starts_step():
            return ("path", "context", _rewrite(self.steps()))
        primary = self.primary()
        predicates = self.predicates()
        expr = ("filter", primary, predicates) if predicates else primary
        if self.peek() in (("symbol", "/"), ("symbol", "//")):
            if self.take() == "//":
                return ("path", expr, _rewrite((_DESCENDANT_OR_SELF, *self.relative())))
            return ("path", expr, _rewrite(self.steps()))
        return expr

    def relative(self) -> tuple[Any, ...]:
        """The steps of a relative location path after "//": libxml2 lets it
        start with one more "/" (ignored) or "//" (another descendant-or-self)."""
        if self.accept("/"):
            return self.steps()
        if self.accept("//"):
            return (_DESCENDANT_OR_SELF, *self.steps())
        return self.steps()

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
            # libxml2 takes "f(" and "f(a," at the very end as "f()" and "f(a)".
            unclosed = self.peek()[0] == "end"
            if not unclosed and self.peek() != ("symbol", ")"):
                args.append(self.binary(0))
                while self.accept(","):
                    if self.peek()[0] == "end":
                        unclosed = True
                        break
                    args.append(self.binary(0))
            if not unclosed:
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
