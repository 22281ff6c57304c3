"""
The operation registry: one table drives the whole REST API.

A resource module declares a :class:`Handler` (its name, URI template and
doc) and decorates its coroutines with :meth:`Handler.operation`, giving the
HTTP method, the ``op`` name (``None`` for plain CRUD), who may call it and the
parameters it takes.  A :class:`Registry` built from those handlers answers
everything else: which handler a path belongs to, which operation a
``(method, op)`` pair selects, the ``describe/`` document and its hash.
Nobody writes a route by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from region.api.errors import ValidationError
from region.api.params import Params, UploadedFile

#: Where the API lives; resource URIs always carry this prefix, as in MAAS 1.8.
API_PREFIX = "/MAAS/api/1.0/"

ANONYMOUS = "anonymous"
USER = "user"
ADMIN = "admin"
_AUTH_LEVELS = (ANONYMOUS, USER, ADMIN)

_CRUD_NAMES = {"GET": "read", "POST": "create", "PUT": "update", "DELETE": "delete"}


# --- parameter kinds -------------------------------------------------------


@attrs.frozen
class Kind:
    """How a parameter's text becomes a value."""

    label: str
    convert: Callable[[str], Any]


def _to_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("Enter a whole number.") from None


def _to_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("Enter a number.") from None


def _to_bool(text: str) -> bool:
    """Django's BooleanField: 'false', '0' and '' are False, anything else True."""
    return text.strip().lower() not in ("", "false", "0")


def _to_bool01(text: str) -> bool:
    if text == "1":
        return True
    if text == "0":
        return False
    raise ValueError("Not a valid Boolean value (0 or 1)")


def _to_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("Enter valid JSON.") from None


def _to_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("Enter valid base64-encoded data.") from None


STRING = Kind("unicode", str)
INT = Kind("int", _to_int)
FLOAT = Kind("float", _to_float)
BOOL = Kind("bool", _to_bool)
BOOL01 = Kind("bool ('0' for False, '1' for True)", _to_bool01)
JSON = Kind("json", _to_json)
BASE64 = Kind("base64-encoded bytes", _to_base64)
#: A file part; a plain text part of the same name is taken as its bytes.
FILE = Kind("file", lambda text: text.encode("utf-8"))


@attrs.frozen
class Param:
    """One declared parameter of an operation."""

    name: str
    kind: Kind = STRING
    required: bool = False
    multiple: bool = False
    doc: str = ""
    #: The keyword the operation receives it as, when not ``name`` (e.g. a PUT
    #: whose body has a ``name`` beside a ``{name}`` in its path).
    dest: str | None = None

    @property
    def keyword(self) -> str:
        return self.dest or self.name

    def extract(self, params: Params) -> Any:
        """Return this parameter's value from params, or raise ValidationError."""
        if self.kind is FILE:
            return self._extract_file(params)
        values = params.getlist(self.name)
        if not values:
            if self.required:
                raise ValidationError.field(self.name, "This field is required.")
            return [] if self.multiple else None
        try:
            if self.multiple:
                return [self.kind.convert(value) for value in values]
            return self.kind.convert(values[-1])
        except ValueError as error:
            raise ValidationError.field(self.name, str(error)) from None

    def _extract_file(self, params: Params) -> Any:
        uploads: list[UploadedFile] = params.files(self.name)
        contents = [upload.content for upload in uploads]
        contents += [value.encode("utf-8") for value in params.getlist(self.name)]
        if not contents:
            if self.required:
                raise ValidationError.field(self.name, "This field is required.")
            return [] if self.multiple else None
        return contents if self.multiple else contents[-1]


# --- operations and handlers -----------------------------------------------


@attrs.frozen
class Operation:
    """One ``(method, op)`` of a handler, and the coroutine that serves it."""

    handler_name: str
    method: str
    op: str | None
    func: Callable[..., Any]
    auth: str
    params: tuple[Param, ...]
    doc: str

    @property
    def name(self) -> str:
        """The action's name in ``describe/``: the op, or read/create/update/delete."""
        return self.op if self.op is not None else _CRUD_NAMES[self.method]

    def parse(self, params: Params) -> dict[str, Any]:
        """Convert declared parameters, collecting every error before raising."""
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for param in self.params:
            try:
                values[param.keyword] = param.extract(params)
            except ValidationError as error:
                for field, messages in error.errors.items():
                    errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)
        return values


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>[^/]+)"
    return re.compile(pattern)


class Handler:
    """
    A resource: a URI template under the API root and its operations.

    :param name: the handler's class-style name in ``describe/``
        (``"ZonesHandler"``), as MAAS 1.8 publishes it.
    :param path: the URI template relative to the API root, e.g. ``"zones/{name}/"``.
    :param doc: what the resource is, for ``describe/``.
    :param admin_only: only administrators may use it at all (MAAS's
        ``AdminRestrictedResource``: 403 even without credentials).
    :param hidden: left out of ``describe/`` (plain views of MAAS 1.8 such as
        ``describe/`` itself, which were never API handlers).
    """

    def __init__(self, name: str, path: str, doc: str, *, admin_only: bool = False,
                 hidden: bool = False) -> None:
        self.name = name
        self.path = path
        self.doc = doc
        self.admin_only = admin_only
        self.hidden = hidden
        self.pattern = _template_regex(path)
        self.path_params = tuple(re.findall(r"\{(\w+)\}", path))
        self.operations: dict[tuple[str, str | None], Operation] = {}

    def operation(
        self,
        method: str,
        op: str | None = None,
        *,
        auth: str = USER,
        params: Sequence[Param] = (),
        doc: str | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare that the decorated coroutine serves ``(method, op)`` here."""
        if method not in _CRUD_NAMES:
            raise ValueError(f"unsupported method {method!r}")
        if auth not in _AUTH_LEVELS:
            raise ValueError(f"unknown auth level {auth!r}")

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            key = (method, op)
            if key in self.operations:
                raise ValueError(f"{self.name}: {method} op={op} declared twice")
            self._check_signature(func, params)
            self.operations[key] = Operation(
                handler_name=self.name,
                method=method,
                op=op,
                func=func,
                auth=auth,
                params=tuple(params),
                doc=inspect.cleandoc(doc if doc is not None else (func.__doc__ or "")),
            )
            return func

        return register

    def _check_signature(self, func: Callable[..., Any], params: Sequence[Param]) -> None:
        signature = inspect.signature(func)
        accepted = set(signature.parameters) - {"ctx"}
        expected = {param.keyword for param in params} | set(self.path_params)
        if accepted != expected and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
        ):
            raise TypeError(
                f"{self.name}.{func.__name__} takes {sorted(accepted)} "
                f"but declares {sorted(expected)}"
            )

    @property
    def allowed_methods(self) -> list[str]:
        return sorted({method for method, _ in self.operations})

    def lookup(self, method: str, op: str | None) -> Operation | None:
        return self.operations.get((method, op))

    def describe(self, base_uri: str, *, anonymous: bool) -> dict[str, Any]:
        operations = [
            operation
            for operation in self.operations.values()
            if not anonymous or operation.auth == ANONYMOUS
        ]
        operations.sort(key=lambda o: (o.method, o.op or ""))
        return {
            "name": ("Anon" if anonymous and self.has_private_operations else "") + self.name,
            "doc": self.doc,
            "params": list(self.path_params),
            "path": API_PREFIX + self.path,
            "uri": base_uri + self.path,
            "actions": [
                {
                    "method": operation.method,
                    "name": operation.name,
                    "doc": operation.doc,
                    "op": operation.op,
                    "restful": operation.op is None,
                }
                for operation in operations
            ],
        }

    @property
    def has_anonymous_operations(self) -> bool:
        return any(operation.auth == ANONYMOUS for operation in self.operations.values())

    @property
    def has_private_operations(self) -> bool:
        return any(operation.auth != ANONYMOUS for operation in self.operations.values())


class Registry:
    """Every handler of the API, looked up by path."""

    def __init__(self, handlers: Iterable[Handler]) -> None:
        self.handlers = list(handlers)
        names = [handler.name for handler in self.handlers if not handler.hidden]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"handler names used twice: {sorted(duplicates)}")
        self.hash = hashlib.sha1(  # noqa: S324 - a fingerprint, as MAAS computes it
            json.dumps(self._describe_resources(""), sort_keys=True, default=str,
                       separators=(",", ":")).encode("utf-8")
        ).hexdigest()

    def match(self, path: str) -> tuple[Handler, dict[str, str]] | None:
        """Find the handler whose template matches path (relative to the API root)."""
        for handler in self.handlers:
            found = handler.pattern.fullmatch(path)
            if found is not None:
                return handler, found.groupdict()
        return None

    def operations(self) -> list[Operation]:
        return [op for handler in self.handlers for op in handler.operations.values()]

    def _describe_resources(self, base_uri: str) -> list[dict[str, Any]]:
        resources = []
        for handler in self.handlers:
            if handler.hidden:
                continue
            auth = None
            anon = None
            if handler.has_private_operations:
                auth = handler.describe(base_uri, anonymous=False)
            if handler.has_anonymous_operations:
                anon = handler.describe(base_uri, anonymous=True)
            resources.append({"name": handler.name, "anon": anon, "auth": auth})
        if not base_uri:
            for resource in resources:
                for side in ("anon", "auth"):
                    if resource[side] is not None:
                        resource[side].pop("uri")
        return resources

    def describe(self, base_uri: str) -> dict[str, Any]:
        """The ``describe/`` document; base_uri is the absolute API root URL."""
        resources = self._describe_resources(base_uri)
        handlers = [
            resource[side]
            for resource in resources
            for side in ("anon", "auth")
            if resource[side] is not None
        ]
        return {"doc": "MAAS API", "resources": resources, "handlers": handlers,
                "hash": self.hash}
