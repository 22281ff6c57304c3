"""
An Intel AMT management engine as far as power control goes: WS-Management on HTTP, Digest auth.

HTTP Digest is Twisted's own server implementation (``twisted.web.guard`` with
``DigestCredentialFactory``), independent of the client under test.  Behind
it, ``/wsman`` parses each SOAP 1.2 request and checks its WS-Addressing
headers, ResourceURI, selectors and body, and implements:

- ``Enumerate`` (optimized or not) and ``Pull`` of
  ``CIM_AssociatedPowerManagementService`` (``PowerState``);
- ``RequestPowerStateChange`` on ``CIM_PowerManagementService`` (2 on, 8 off,
  10 master bus reset, which leaves the node on and counts a reboot);
- ``ChangeBootOrder`` on ``CIM_BootConfigSetting`` and ``SetBootConfigRole`` on
  ``CIM_BootService``.

Every call is recorded in :attr:`FakeAMT.calls` as ``(method, details)``.
Anything malformed gets a SOAP fault, so a test sees it fail.
"""

from __future__ import annotations

import uuid
from typing import Any

from lxml import etree
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.web.guard import DigestCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site
from zope.interface import implementer

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
CIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
NS = {"s": S, "wsa": WSA, "wsman": WSMAN, "wsen": WSEN}

POWER_SERVICE_SELECTORS = {
    "SystemCreationClassName": "CIM_ComputerSystem", "SystemName": "Intel(r) AMT",
    "CreationClassName": "CIM_PowerManagementService",
    "Name": "Intel(r) AMT Power Management Service",
}
BOOT_SERVICE_SELECTORS = {
    "SystemCreationClassName": "CIM_ComputerSystem", "SystemName": "Intel(r) AMT",
    "CreationClassName": "CIM_BootService", "Name": "Intel(r) AMT Boot Service",
}


class Fault(Exception):
    def __init__(self, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason


class FakeAMT:
    """The managed node's state and the calls made."""

    def __init__(self, password: str, power_state: int = 8) -> None:
        self.password = password
        self.power_state = power_state
        self.boot_source: str | None = None
        self.boot_role: str | None = None
        self.reboots = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.contexts: dict[str, bool] = {}
        #: seconds' worth of queries a change takes to show (0: at once)
        self.lag = 0
        self._pending: int | None = None

    def site(self, realm: str = "Digest:F3EB554784E729164447A89F60B641C5") -> Site:
        checker = InMemoryUsernamePasswordDatabaseDontUse(admin=self.password.encode())

        @implementer(IRealm)
        class Realm:
            def requestAvatar(self_, avatar_id: Any, mind: Any, *interfaces: Any) -> Any:
                root = Resource()
                root.putChild(b"wsman", WSManResource(self))
                return IResource, root, lambda: None

        wrapper = HTTPAuthSessionWrapper(
            Portal(Realm(), [checker]), [DigestCredentialFactory(b"md5", realm.encode())])
        return Site(wrapper)

    @property
    def is_on(self) -> bool:
        return self.power_state == 2

    def reset(self, power_state: int = 8) -> None:
        self.power_state = power_state
        self.boot_source = self.boot_role = None
        self.reboots = 0
        self.calls.clear()
        self._pending = None

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    # -- the protocol ------------------------------------------------------------

    def handle(self, data: bytes) -> bytes:
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
            header = root.find("s:Header", NS)
            body = root.find("s:Body", NS)
            if root.tag != f"{{{S}}}Envelope" or header is None or body is None:
                raise Fault("wsa:InvalidMessageInformationHeader", "not a SOAP 1.2 envelope")
            action = header.findtext("wsa:Action", namespaces=NS)
            resource = header.findtext("wsman:ResourceURI", namespaces=NS)
            if not header.findtext("wsa:MessageID", namespaces=NS) or not header.findtext(
                    "wsa:To", namespaces=NS):
                raise Fault("wsa:MessageInformationHeaderRequired", "MessageID/To missing")
            if header.findtext("wsa:ReplyTo/wsa:Address", namespaces=NS) != \
                    WSA + "/role/anonymous":
                raise Fault("wsa:InvalidMessageInformationHeader", "ReplyTo missing")
            selectors = {s.get("Name"): s.text for s in
                         header.findall("wsman:SelectorSet/wsman:Selector", NS)}
            return self.dispatch(action or "", resource or "", selectors, body)
        except Fault as fault:
            return self.fault(fault)

    def dispatch(self, action: str, resource: str, selectors: dict[str, Any],
                 body: Any) -> bytes:
        power_resource = CIM + "CIM_AssociatedPowerManagementService"
        if action == f"{WSEN}/Enumerate":
            if resource != power_resource:
                raise Fault("wsa:DestinationUnreachable", f"no such resource {resource}")
            optimize = body.find("wsen:Enumerate/wsman:OptimizeEnumeration", NS) is not None
            self.calls.append(("Enumerate", {"optimized": optimize}))
            context = str(uuid.uuid4())
            if optimize:
                return self.reply(f"{WSEN}/EnumerateResponse", (
                    f'<wsen:EnumerateResponse><wsen:EnumerationContext>{context}'
                    f'</wsen:EnumerationContext><wsman:Items>{self.item()}</wsman:Items>'
                    f'<wsman:EndOfSequence/></wsen:EnumerateResponse>'))
            self.contexts[context] = True
            return self.reply(f"{WSEN}/EnumerateResponse", (
                f"<wsen:EnumerateResponse><wsen:EnumerationContext>{context}"
                f"</wsen:EnumerationContext></wsen:EnumerateResponse>"))
        if action == f"{WSEN}/Pull":
            context = body.findtext("wsen:Pull/wsen:EnumerationContext", namespaces=NS)
            if not self.contexts.pop(context or "", None):
                raise Fault("wsen:InvalidEnumerationContext", "unknown context")
            self.calls.append(("Pull", {}))
            return self.reply(f"{WSEN}/PullResponse", (
                f"<wsen:PullResponse><wsen:Items>{self.item()}</wsen:Items>"
                f"<wsen:EndOfSequence/></wsen:PullResponse>"))
        method = action.rpartition("/")[2]
        if action != f"{resource}/{method}":
            raise Fault("wsa:ActionNotSupported", f"action {action} on {resource}")
        if method == "RequestPowerStateChange":
            return self.power_change(resource, selectors, body)
        if method == "ChangeBootOrder":
            return self.change_boot_order(resource, selectors, body)
        if method == "SetBootConfigRole":
            return self.set_boot_config_role(resource, selectors, body)
        raise Fault("wsa:ActionNotSupported", f"unknown method {method}")

    def item(self) -> str:
        ns = CIM + "CIM_AssociatedPowerManagementService"
        state = self.power_state
        if self._pending is not None:
            if self.lag > 0:
                self.lag -= 1
            else:
                state = self.power_state = self._pending
                self._pending = None
        return (f'<h:CIM_AssociatedPowerManagementService xmlns:h="{ns}">'
                f"<h:AvailableRequestedPowerStates>2</h:AvailableRequestedPowerStates>"
                f"<h:PowerState>{state}</h:PowerState><h:RequestedPowerState>2"
                f"</h:RequestedPowerState></h:CIM_AssociatedPowerManagementService>")

    @staticmethod
    def reference(element: Any) -> tuple[str | None, dict[str, Any]]:
        if element is None:
            raise Fault("wsman:InvalidParameter", "missing endpoint reference")
        if element.findtext("wsa:Address", namespaces=NS) != WSA + "/role/anonymous":
            raise Fault("wsman:InvalidParameter", "bad reference address")
        parameters = element.find("wsa:ReferenceParameters", NS)
        if parameters is None:
            raise Fault("wsman:InvalidParameter", "no ReferenceParameters")
        selectors = {s.get("Name") or s.get(f"{{{WSMAN}}}Name"): s.text for s in
                     parameters.findall("wsman:SelectorSet/wsman:Selector", NS)}
        return parameters.findtext("wsman:ResourceURI", namespaces=NS), selectors

    def power_change(self, resource: str, selectors: dict[str, Any], body: Any) -> bytes:
        ns = CIM + "CIM_PowerManagementService"
        if resource != ns or selectors != POWER_SERVICE_SELECTORS:
            raise Fault("wsman:InvalidSelectors", f"bad selectors {selectors}")
        request = body.find(f"{{{ns}}}RequestPowerStateChange_INPUT")
        if request is None:
            raise Fault("wsman:InvalidParameter", "no RequestPowerStateChange_INPUT")
        state = request.findtext(f"{{{ns}}}PowerState")
        element = self.reference(request.find(f"{{{ns}}}ManagedElement"))
        if element != (CIM + "CIM_ComputerSystem",
                       {"CreationClassName": "CIM_ComputerSystem", "Name": "ManagedSystem"}):
            raise Fault("wsman:InvalidParameter", f"bad ManagedElement {element}")
        self.calls.append(("RequestPowerStateChange", {"PowerState": state}))
        value = 0
        if state == "2":
            value = 0 if not self.is_on else 2  # already on: AMT refuses the transition
            if not self.is_on:
                self._pending = 2
        elif state == "8":
            self._pending = 8
        elif state == "10":
            value = 0 if self.is_on else 2
            self.reboots += 1
        else:
            value = 5
        if self.lag == 0 and self._pending is not None:
            self.power_state, self._pending = self._pending, None
        return self.output(ns, "RequestPowerStateChange", value)

    def change_boot_order(self, resource: str, selectors: dict[str, Any], body: Any) -> bytes:
        ns = CIM + "CIM_BootConfigSetting"
        if resource != ns or selectors != {"InstanceID": "Intel(r) AMT: Boot Configuration 0"}:
            raise Fault("wsman:InvalidSelectors", f"bad selectors {selectors}")
        source = self.reference(body.find(f"{{{ns}}}ChangeBootOrder_INPUT/{{{ns}}}Source"))
        if source[0] != CIM + "CIM_BootSourceSetting":
            raise Fault("wsman:InvalidParameter", f"bad Source {source}")
        self.boot_source = source[1].get("InstanceID")
        self.calls.append(("ChangeBootOrder", {"Source": self.boot_source}))
        return self.output(ns, "ChangeBootOrder", 0)

    def set_boot_config_role(self, resource: str, selectors: dict[str, Any], body: Any) -> bytes:
        ns = CIM + "CIM_BootService"
        if resource != ns or selectors != BOOT_SERVICE_SELECTORS:
            raise Fault("wsman:InvalidSelectors", f"bad selectors {selectors}")
        request = body.find(f"{{{ns}}}SetBootConfigRole_INPUT")
        if request is None:
            raise Fault("wsman:InvalidParameter", "no SetBootConfigRole_INPUT")
        setting = self.reference(request.find(f"{{{ns}}}BootConfigSetting"))
        if setting != (CIM + "CIM_BootConfigSetting",
                       {"InstanceID": "Intel(r) AMT: Boot Configuration 0"}):
            raise Fault("wsman:InvalidParameter", f"bad BootConfigSetting {setting}")
        self.boot_role = request.findtext(f"{{{ns}}}Role")
        self.calls.append(("SetBootConfigRole", {"Role": self.boot_role}))
        return self.output(ns, "SetBootConfigRole", 0)

    # -- answers -----------------------------------------------------------------

    def reply(self, action: str, body: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="{S}" '
            f'xmlns:b="{WSA}" xmlns:wsman="{WSMAN}" xmlns:wsen="{WSEN}"><a:Header>'
            f"<b:To>{WSA}/role/anonymous</b:To><b:Action>{action}</b:Action>"
            f"<b:MessageID>uuid:{uuid.uuid4()}</b:MessageID></a:Header>"
            f"<a:Body>{body}</a:Body></a:Envelope>"
        ).encode()

    def output(self, ns: str, method: str, value: int) -> bytes:
        return self.reply(f"{ns}/{method}Response", (
            f'<g:{method}_OUTPUT xmlns:g="{ns}"><g:ReturnValue>{value}</g:ReturnValue>'
            f"</g:{method}_OUTPUT>"))

    def fault(self, fault: Fault) -> bytes:
        return self.reply(f"{WSA}/fault", (
            f"<a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>{fault.subcode}"
            f"</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang=\"en-US\">"
            f"{fault.reason}</a:Text></a:Reason></a:Fault>"))


class WSManResource(Resource):
    isLeaf = True

    def __init__(self, device: FakeAMT) -> None:
        super().__init__()
        self.device = device

    def render_POST(self, request: Any) -> bytes:
        content_type = request.getHeader(b"content-type") or b""
        if not content_type.startswith(b"application/soap+xml"):
            request.setResponseCode(415)
            return b""
        answer = self.device.handle(request.content.read())
        if b"<a:Fault>" in answer:
            request.setResponseCode(400)
        request.setHeader(b"content-type", b"application/soap+xml;charset=UTF-8")
        return answer
