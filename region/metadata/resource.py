"""
The metadata service over HTTP: routing, authentication, and the answers.

Nodes sign their requests with their own key (see :mod:`region.db.node_keys`),
whose token identifies the node.  A few endpoints are anonymous: the
preseed that hands a node its key (``by-id``), the enlistment endpoints, and
``by-id``'s ``netboot_off``.  Text answers are ``text/plain``; listings are
sorted and newline-joined.  Errors are rendered as the API renders them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from twisted.logger import Logger
from twisted.web.server import Request

from region.api.auth import OAuthVerifier
from region.api.context import Services
from region.api.errors import (
    APIError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from region.api.params import Params, parse_body, parse_query
from region.api.resource import request_body, request_headers
from region.api.responses import OK, Response
from region.db import commissioning_scripts as db_scripts
from region.db import node_keys, node_userdata, userkeys
from region.db import nodes as db_nodes
from region.db.pool import DatabaseUnavailable, Tx
from region.db.userkeys import KeyKind
from region.domain.lifecycle import NodeStateViolation, NodeStatus
from region.metadata import userdata
from region.metadata.paths import ANONYMOUS, VERSIONS, Kind, Route, route
from region.metadata.signal import apply_signal, parse_signal
from region.nodeops import NodeOps, change_status
from region.tagging import apply_tags_to_node

log = Logger(namespace="region.metadata")

OCTET_STREAM = "application/octet-stream"
TAR = "application/tar"
#: Statuses whose boot purpose is not "poweroff" (1.8 ``get_boot_purpose``).
_NOT_POWEROFF = frozenset({NodeStatus.COMMISSIONING, NodeStatus.DISK_ERASING,
                           NodeStatus.DEPLOYING, NodeStatus.DEPLOYED})
_NOT_A_NODE = "Not authenticated as a known node."
_NO_CREDENTIALS = ("Authorization Error: the metadata service needs the node's OAuth "
                   "credentials (see the preseed).")
_UNSAFE = "Unauthenticated metadata access is not allowed on this MAAS."

ENLIST_META_DATA = {
    "instance-id": "i-maas-enlistment",
    "local-hostname": "maas-enlisting-node",
    "public-keys": "",
}


def _text(text: str) -> Response:
    return Response.text(text)


def _unrecognised(method: str, op: str | None) -> BadRequest:
    return BadRequest(f"Unrecognised signature: method={method} op={op}")


class MetadataResource:
    """
    Serve ``/MAAS/metadata/``.

    :param services: the region's shared collaborators (database, config,
        reactor, and ``extras["nodeops"]``).
    :param verifier: checks OAuth signatures.
    :param assets: the built-in scripts and templates (read from the package
        when not given).
    """

    def __init__(self, services: Services, verifier: OAuthVerifier,
                 assets: userdata.Assets | None = None) -> None:
        self.services = services
        self.verifier = verifier
        self.assets = assets if assets is not None else userdata.load_assets()

    @property
    def db(self) -> Any:
        return self.services.db

    def nodeops(self) -> NodeOps:
        """The region's lifecycle operations (needed only to release a node)."""
        ops: NodeOps = self.services.extras["nodeops"]
        return ops

    @property
    def maas_url(self) -> str:
        return str(self.services.config.effective_maas_url)

    async def serve(self, request: Request, rest: str) -> Response:
        """Answer one request; rest is the path after ``/MAAS/metadata/``."""
        try:
            return await self._serve(request, rest)
        except APIError as error:
            body, content_type = error.render()
            return Response(body, error.status, content_type, dict(error.headers))
        except NodeStateViolation as error:
            return Response.text(str(error), 409)
        except DatabaseUnavailable as error:
            log.warn("Database unavailable: {error}", error=str(error))
            return Response.text("The MAAS database is unavailable; try again shortly.", 503)
        except Exception as error:
            status = getattr(error, "api_status", None)
            if isinstance(status, int):
                return Response.text(str(error), status)
            raise

    async def _serve(self, request: Request, rest: str) -> Response:
        try:
            path = unquote(rest, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("The path is not valid UTF-8.") from None
        found = route(path) if "\x00" not in path else None
        if found is None:
            raise NotFound(f"Not found: {request.path.decode('latin-1')}")
        method = request.method.decode("ascii", errors="replace").upper()
        if method == "HEAD":
            method = "GET"
        params = self._params(request, method)
        if found.kind in ANONYMOUS:
            self._check_version(found)
            return await self._anonymous(found, method, params)
        system_id = await self._authenticate(request, method)
        self._check_version(found)
        return await self._for_node(found, method, params, system_id)

    @staticmethod
    def _params(request: Request, method: str) -> Params:
        query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
        params = parse_query(query)
        if method in ("POST", "PUT"):
            raw_type = request.getHeader(b"content-type")
            content_type = raw_type.decode("latin-1") if raw_type else None
            params = params.merged(parse_body(content_type, request_body(request)))
        return params

    @staticmethod
    def _check_version(found: Route) -> None:
        if found.version is not None and found.version not in VERSIONS:
            raise NotFound(f"Unknown metadata version: {found.version}")

    async def _authenticate(self, request: Request, method: str) -> str:
        """The system_id of the node that signed the request."""
        uri = "http://localhost" + request.uri.decode("latin-1")
        body = request_body(request) if method in ("POST", "PUT") else None
        credentials = await self.verifier.authenticate(
            method, uri, request_headers(request), body)
        if credentials is None:
            raise Unauthorized(_NO_CREDENTIALS)
        token_id = credentials.token.id
        system_id = await self.db.transaction(
            lambda tx: node_keys.system_id_for_token(tx, token_id))
        if system_id is None:
            raise Forbidden(_NOT_A_NODE)
        return str(system_id)

    # -- anonymous endpoints ---------------------------------------------------

    async def _anonymous(self, found: Route, method: str, params: Params) -> Response:
        op = params.get("op")
        kind = found.kind
        if kind == Kind.BY_MAC:
            raise Forbidden(_UNSAFE)
        if kind == Kind.BY_ID:
            if method == "GET" and op == "get_preseed":
                return _text(await self._preseed(found.item))
            if method == "POST" and op == "netboot_off":
                await self._set_netboot(found.item, False)
                return OK
            raise _unrecognised(method, op)
        if kind == Kind.ENLIST_PRESEED:
            if method == "GET" and op == "get_enlist_preseed":
                return _text(userdata.enlist_preseed(self.maas_url))
            raise _unrecognised(method, op)
        self._only_get(method)
        if kind == Kind.ENLIST_INDEX:
            return _text(userdata.text_listing(VERSIONS))
        if kind == Kind.ENLIST_VERSION:
            return _text(userdata.text_listing(["meta-data", "user-data"]))
        if kind == Kind.ENLIST_USER_DATA:
            return Response(userdata.enlist_user_data(self.assets, self.maas_url),
                            content_type=OCTET_STREAM)
        assert kind == Kind.ENLIST_META_DATA
        if not found.item:
            return _text(userdata.text_listing(["instance-id", "local-hostname"]))
        if found.item not in ENLIST_META_DATA:
            raise NotFound(f"Unknown metadata attribute: {found.item}")
        return _text(ENLIST_META_DATA[found.item])

    @staticmethod
    def _only_get(method: str) -> None:
        if method != "GET":
            raise MethodNotAllowed(["GET"])

    async def _preseed(self, system_id: str) -> str:
        async def work(tx: Tx) -> str:
            node = await db_nodes.get(tx, system_id)
            if node is None:
                raise NotFound(f"No node with system_id {system_id!r}.")
            token = await node_keys.get_or_create(tx, node.id)
            return userdata.node_preseed(self.maas_url, token)

        return str(await self.db.transaction(work))

    async def _set_netboot(self, system_id: str, netboot: bool) -> None:
        async def work(tx: Tx) -> None:
            node = await db_nodes.get(tx, system_id, for_update=True)
            if node is None:
                raise NotFound(f"No node with system_id {system_id!r}.")
            if node.netboot != netboot:
                await db_nodes.update(tx, node.id, netboot=netboot)

        await self.db.transaction(work)
        log.info("{system_id}: netboot {state}", system_id=system_id,
                 state="on" if netboot else "off")

    # -- a node's own endpoints ------------------------------------------------

    async def _for_node(self, found: Route, method: str, params: Params,
                        system_id: str) -> Response:
        kind = found.kind
        if kind == Kind.VERSION:
            return await self._version(method, params, system_id)
        self._only_get(method)
        if kind == Kind.INDEX:
            return _text(userdata.text_listing(VERSIONS))
        if kind == Kind.META_DATA:
            return _text(await self._meta_data(system_id, found.item))
        if kind == Kind.USER_DATA:
            data = await self._user_data(system_id)
            if data is None:
                raise NotFound("No user data registered for this node.")
            return Response(data, content_type=OCTET_STREAM)
        assert kind == Kind.SCRIPTS
        return Response(await self._scripts_archive(), content_type=TAR)

    async def _version(self, method: str, params: Params, system_id: str) -> Response:
        op = params.get("op")
        if method == "GET" and not op:
            names = ["maas-commissioning-scripts", "meta-data"]
            if await self.db.transaction(lambda tx: self._has_user_data(tx, system_id)):
                names.append("user-data")
            return _text(userdata.text_listing(names))
        if method == "POST" and op == "signal":
            await self._signal(system_id, params)
            return OK
        if method == "POST" and op in ("netboot_off", "netboot_on"):
            await self._set_netboot(system_id, op == "netboot_on")
            return OK
        raise _unrecognised(method, op)

    async def _meta_data(self, system_id: str, item: str) -> str:
        async def work(tx: Tx) -> str:
            node = await self._node(tx, system_id)
            ssh = ([key.key for key in await userkeys.list_for_user(tx, KeyKind.SSH, node.owner_id)]
                   if node.owner_id is not None else [])
            if item == "":
                names = ["instance-id", "local-hostname", "x509"]
                return userdata.text_listing(names + (["public-keys"] if ssh else []))
            if item == "instance-id":
                return node.system_id
            if item == "local-hostname":
                return await node_keys.fqdn(tx, node.id) or node.hostname
            if item == "public-keys":
                return "\n".join(ssh)
            if item == "x509":
                if node.owner_id is None:
                    return ""
                keys = await userkeys.list_for_user(tx, KeyKind.SSL, node.owner_id)
                return "\n".join(key.key for key in keys)
            raise NotFound(f"Unknown metadata attribute: {item}")

        return str(await self.db.transaction(work))

    @staticmethod
    async def _node(tx: Tx, system_id: str, *, for_update: bool = False) -> db_nodes.Node:
        node = await db_nodes.get(tx, system_id, for_update=for_update)
        if node is None:  # deleted since its request was authenticated
            raise Forbidden(_NOT_A_NODE)
        return node

    async def _has_user_data(self, tx: Tx, system_id: str) -> bool:
        """Whether fetching user-data would find some (without fetching it)."""
        node = await self._node(tx, system_id)
        status = NodeStatus(node.status)
        if status == NodeStatus.COMMISSIONING or status not in _NOT_POWEROFF:
            return True
        return await node_userdata.get(tx, node.id) is not None

    async def _user_data(self, system_id: str) -> bytes | None:
        async def work(tx: Tx) -> bytes | None:
            node = await self._node(tx, system_id, for_update=True)
            status = NodeStatus(node.status)
            if status == NodeStatus.DEPLOYING:
                # cloud-init asking for user-data is the hand-over to the user.
                await change_status(tx, node, NodeStatus.DEPLOYED)
                log.info("{system_id}: deployed", system_id=system_id)
                status = NodeStatus.DEPLOYED
            if status == NodeStatus.COMMISSIONING:
                token = await node_keys.get_or_create(tx, node.id)
                return userdata.commissioning_user_data(self.assets, self.maas_url, token)
            if status not in _NOT_POWEROFF:
                return userdata.poweroff_user_data(self.assets)
            return await node_userdata.get(tx, node.id)

        result: bytes | None = await self.db.transaction(work)
        return result

    async def _scripts_archive(self) -> bytes:
        uploaded = await self.db.transaction(db_scripts.list_scripts)
        scripts = userdata.merge_scripts(
            self.assets.scripts,
            (userdata.Script(script.name, script.content) for script in uploaded))
        reactor = self.services.reactor
        try:
            return await userdata.build_scripts_archive(scripts, reactor, mtime=reactor.seconds())
        except userdata.ArchiveTooLarge as error:
            log.error("{error}", error=str(error))
            raise ServiceUnavailable(str(error), retry_after=None) from None

    async def _signal(self, system_id: str, params: Params) -> None:
        signal = parse_signal(params)
        outcome = await self.db.transaction(
            lambda tx: apply_signal(tx, self.nodeops, system_id, signal))
        log.info("{system_id}: signalled {status} with {count} result(s)",
                 system_id=system_id, status=signal.status, count=len(signal.files))
        if outcome.power_off is not None:
            off = outcome.power_off
            await self._after_commit("power off", system_id,
                                     lambda: self.nodeops().power.power_off(off))
        if outcome.retag:
            await self._after_commit("re-evaluate tags", system_id, lambda: apply_tags_to_node(
                self.db, self.services.reactor, outcome.node.id))

    @staticmethod
    async def _after_commit(what: str, system_id: str,
                            action: Callable[[], Awaitable[Any]]) -> None:
        """Run follow-up work; its failure is logged (the signal itself succeeded)."""
        try:
            await action()
        except Exception:
            log.failure("{system_id}: could not {what} after a signal",
                        system_id=system_id, what=what)
