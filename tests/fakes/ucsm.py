"""
A Cisco UCS Manager, as far as the XML API methods MAAS uses go.

``POST /nuova`` takes one method element and answers with the element of the
same name (``response="yes"``), or with ``errorCode``/``errorDescr``:

- ``aaaLogin`` (551 "Authentication failed" for bad credentials) hands out a
  cookie; ``aaaLogout`` frees it; every other method needs a live cookie
  (552 "Authorization required" otherwise);
- ``configResolveClass classId="computeItem"`` with an optional
  ``<inFilter><eq class= property= value=/></inFilter>`` lists the servers
  (``computeBlade``); an unsupported filter is an error;
- ``configResolveChildren`` of a service profile (class ``lsPower``), of a
  server (``adaptorUnit``) or of an adaptor (``adaptorHostEthIf``);
- ``configConfMo`` of an ``lsPower``: states ``admin-up``, ``admin-down``,
  ``cycle-immediate`` (the server ends up ``up``), anything else refused.

Every method received is recorded in :attr:`FakeUCSM.calls` as
``(name, attributes, body)`` so a test can check the XML it was sent.
"""

from __future__ import annotations

import secrets

import attrs
from lxml import etree
from twisted.web.resource import Resource
from twisted.web.server import Request


@attrs.define
class FakeServer:
    dn: str
    uuid: str
    profile: str  # assignedToDn ("" = not associated)
    macs: list[str]
    state: str = "down"
    cycles: int = 0


class FakeUCSM(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str, servers: list[FakeServer]) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.servers = servers
        self.cookies: set[str] = set()
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def render_POST(self, request: Request) -> bytes:
        if request.path != b"/nuova":
            request.setResponseCode(404)
            return b""
        body = request.content.read()
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError:
            request.setResponseCode(400)
            return b"not XML"
        attributes = dict(root.attrib)
        self.calls.append((root.tag, attributes, body))
        request.setHeader("Content-Type", "text/xml")
        handler = getattr(self, f"do_{root.tag}", None)
        if handler is None:
            return self.error(root.tag, "101", "unknown method")
        if root.tag != "aaaLogin" and attributes.get("cookie", attributes.get("inCookie")) \
                not in self.cookies:
            return self.error(root.tag, "552", "Authorization required")
        return handler(root)

    @staticmethod
    def answer(name: str, attributes: dict[str, str], *children: etree._Element) -> bytes:
        element = etree.Element(name, {"response": "yes", **attributes})
        for child in children:
            element.append(child)
        return etree.tostring(element)

    def error(self, name: str, code: str, description: str) -> bytes:
        return self.answer(name, {"cookie": "", "errorCode": code,
                                  "invocationResult": "unidentified-fail",
                                  "errorDescr": description})

    def do_aaaLogin(self, root: etree._Element) -> bytes:
        if (root.get("inName"), root.get("inPassword")) != (self.user, self.password):
            return self.error("aaaLogin", "551", "Authentication failed")
        cookie = f"{len(self.cookies) + 1}/{secrets.token_hex(8)}"
        self.cookies.add(cookie)
        return self.answer("aaaLogin", {"cookie": "", "outCookie": cookie,
                                        "outRefreshPeriod": "600", "outPriv": "admin"})

    def do_aaaLogout(self, root: etree._Element) -> bytes:
        self.cookies.discard(root.get("inCookie") or "")
        return self.answer("aaaLogout", {"cookie": "", "outStatus": "success"})

    def do_configResolveClass(self, root: etree._Element) -> bytes:
        if root.get("classId") != "computeItem":
            return self.error("configResolveClass", "103", "unsupported class")
        filters = root.findall("inFilter/*")
        servers = self.servers
        if filters:
            match = filters[0]
            if len(filters) != 1 or match.tag != "eq" or match.get("class") != "computeItem" \
                    or match.get("property") != "uuid":
                return self.error("configResolveClass", "103", "unsupported filter")
            servers = [s for s in servers if s.uuid == match.get("value")]
        configs = etree.Element("outConfigs")
        for server in servers:
            etree.SubElement(configs, "computeBlade", {
                "dn": server.dn, "uuid": server.uuid, "assignedToDn": server.profile,
                "operPower": "on" if server.state == "up" else "off"})
        return self.answer("configResolveClass", {"cookie": root.get("cookie") or "",
                                                  "classId": "computeItem"}, configs)

    def do_configResolveChildren(self, root: etree._Element) -> bytes:
        dn, class_id = root.get("inDn") or "", root.get("classId")
        configs = etree.Element("outConfigs")
        for server in self.servers:
            if class_id == "lsPower" and server.profile and dn == server.profile:
                etree.SubElement(configs, "lsPower", {"dn": f"{dn}/power",
                                                      "state": server.state})
            elif class_id == "adaptorUnit" and dn == server.dn:
                etree.SubElement(configs, "adaptorUnit", {"dn": f"{dn}/adaptor-1"})
            elif class_id == "adaptorHostEthIf" and dn == f"{server.dn}/adaptor-1":
                for i, mac in enumerate(server.macs):
                    etree.SubElement(configs, "adaptorHostEthIf", {
                        "dn": f"{dn}/host-eth-{i + 1}", "mac": mac})
        return self.answer("configResolveChildren", {"cookie": root.get("cookie") or "",
                                                     "inDn": dn}, configs)

    def do_configConfMo(self, root: etree._Element) -> bytes:
        dn = root.get("dn") or ""
        items = root.findall("inConfig/lsPower")
        server = next((s for s in self.servers if s.profile and dn == f"{s.profile}/power"),
                      None)
        if server is None or len(items) != 1 or items[0].get("dn") != dn:
            return self.error("configConfMo", "103", f"no lsPower at {dn}")
        state = items[0].get("state")
        if state == "admin-up":
            server.state = "up"
        elif state == "admin-down":
            server.state = "down"
        elif state == "cycle-immediate":
            server.state, server.cycles = "up", server.cycles + 1
        else:
            return self.error("configConfMo", "103", f"bad state {state}")
        out = etree.Element("outConfig")
        etree.SubElement(out, "lsPower", {"dn": dn, "state": server.state})
        return self.answer("configConfMo", {"cookie": root.get("cookie") or "", "dn": dn}, out)
