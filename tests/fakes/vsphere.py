"""
A vCenter as far as power control and the probe go: the vSphere SOAP API (vim25) at ``/sdk``.

It parses each SOAP 1.1 request and implements ``RetrieveServiceContent``,
``Login`` (sets the ``vmware_soap_session`` cookie; ``InvalidLogin`` fault on a
bad password), ``Logout``, ``FindByUuid`` (instance or BIOS UUID),
``CreateContainerView``/``DestroyView``, ``RetrievePropertiesEx`` (of VMs, of
a container view's VMs with a ``TraversalSpec``, and of tasks) with paging
through ``ContinueRetrievePropertiesEx``, and ``PowerOnVM_Task`` /
``PowerOffVM_Task`` (tasks that succeed, or fail with ``InvalidPowerState``).
Every call but the first two must carry the session cookie
(``NotAuthenticated`` fault otherwise).  Calls are recorded in
:attr:`FakeVSphere.calls` as ``(method, arguments)``.
"""

from __future__ import annotations

import secrets
from typing import Any

import attrs
from lxml import etree
from twisted.web.resource import Resource
from twisted.web.server import Site

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
VIM = "urn:vim25"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@attrs.define
class VM:
    moref: str
    name: str
    uuid: str  # BIOS UUID (config.uuid)
    instance_uuid: str
    guest_id: str
    macs: list[str]
    power_state: str = "poweredOff"


class Fault(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class FakeVSphere:
    def __init__(self, user: str, password: str, vms: list[VM], page_size: int = 2) -> None:
        self.user = user
        self.password = password
        self.vms = {vm.moref: vm for vm in vms}
        self.page_size = page_size
        self.sessions: set[str] = set()
        self.views: set[str] = set()
        self.tasks: dict[str, tuple[str, str]] = {}  # id → (state, error)
        self.tokens: dict[str, list[str]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []

    def site(self) -> Site:
        root = Resource()
        root.putChild(b"sdk", SDK(self))
        return Site(root)

    def vm(self, name: str) -> VM:
        return next(vm for vm in self.vms.values() if vm.name == name)

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    # -- dispatch ----------------------------------------------------------------

    def handle(self, data: bytes, cookie: str | None) -> tuple[bytes, str | None, int]:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
        body = root.find(f"{{{SOAPENV}}}Body")
        if root.tag != f"{{{SOAPENV}}}Envelope" or body is None or len(body) == 0:
            return self.fault(Fault("InvalidRequest", "not a SOAP envelope")), None, 500
        call = body[0]
        method = etree.QName(call).localname
        if etree.QName(call).namespace != VIM:
            return self.fault(Fault("InvalidRequest", "not urn:vim25")), None, 500
        this = call.find(f"{{{VIM}}}_this")
        arguments = {etree.QName(c).localname: (c.text or "").strip() for c in call
                     if etree.QName(c).localname not in ("specSet", "options")}
        recorded = dict(arguments)
        if method == "Login":
            recorded["password"] = "***"
        self.calls.append((method, recorded))
        try:
            if method not in ("RetrieveServiceContent", "Login"):
                if cookie is None or cookie.split("=", 1)[-1].strip('"') not in self.sessions:
                    raise Fault("NotAuthenticated", "The session is not authenticated.")
            handler = getattr(self, f"do_{method}", None)
            if handler is None:
                raise Fault("MethodNotFound", f"no method {method}")
            if this is None:
                raise Fault("InvalidRequest", "no _this")
            result, set_cookie = handler(call, this, arguments)
            return self.response(method, result), set_cookie, 200
        except Fault as fault:
            return self.fault(fault), None, 500

    # -- methods -----------------------------------------------------------------

    def do_RetrieveServiceContent(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        if this.get("type") != "ServiceInstance":
            raise Fault("InvalidArgument", "_this must be the ServiceInstance")
        return ('<returnval><rootFolder type="Folder">group-d1</rootFolder>'
                '<propertyCollector type="PropertyCollector">propertyCollector'
                '</propertyCollector><viewManager type="ViewManager">ViewManager</viewManager>'
                '<about><name>VMware vCenter Server</name><apiVersion>6.0</apiVersion></about>'
                '<sessionManager type="SessionManager">SessionManager</sessionManager>'
                '<searchIndex type="SearchIndex">SearchIndex</searchIndex></returnval>'), None

    def do_Login(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        if this.get("type") != "SessionManager" or this.text != "SessionManager":
            raise Fault("InvalidArgument", "_this must be the SessionManager")
        if args.get("userName") != self.user or call.findtext(f"{{{VIM}}}password") != \
                self.password:
            raise Fault("InvalidLogin",
                        "Cannot complete login due to an incorrect user name or password.")
        session = secrets.token_hex(16)
        self.sessions.add(session)
        return (f"<returnval><key>{session}</key><userName>{self.user}</userName></returnval>",
                f'vmware_soap_session="{session}"; Path=/; HttpOnly; Secure;')

    def do_Logout(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        return "", None

    def do_FindByUuid(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        if this.get("type") != "SearchIndex" or args.get("vmSearch") != "true":
            raise Fault("InvalidArgument", "bad FindByUuid")
        instance = args.get("instanceUuid") == "true"
        for vm in self.vms.values():
            if (vm.instance_uuid if instance else vm.uuid) == args.get("uuid"):
                return f'<returnval type="VirtualMachine">{vm.moref}</returnval>', None
        return "", None

    def do_CreateContainerView(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        container = call.find(f"{{{VIM}}}container")
        if (this.get("type") != "ViewManager" or container is None
                or container.get("type") != "Folder" or container.text != "group-d1"
                or args.get("type") != "VirtualMachine" or args.get("recursive") != "true"):
            raise Fault("InvalidArgument", "bad CreateContainerView")
        view = f"session[{secrets.token_hex(4)}]view"
        self.views.add(view)
        return f'<returnval type="ContainerView">{view}</returnval>', None

    def do_DestroyView(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        self.views.discard(this.text)
        return "", None

    def _power(self, this: Any, wanted: str) -> Any:
        vm = self.vms.get(this.text or "")
        if this.get("type") != "VirtualMachine" or vm is None:
            raise Fault("ManagedObjectNotFound", "The object has already been deleted.")
        task = f"task-{len(self.tasks) + 1}"
        if vm.power_state == wanted:
            self.tasks[task] = ("error", "The attempted operation cannot be performed in the "
                                         "current state (Powered on).")
        else:
            vm.power_state = wanted
            self.tasks[task] = ("success", "")
        return f'<returnval type="Task">{task}</returnval>', None

    def do_PowerOnVM_Task(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        return self._power(this, "poweredOn")

    def do_PowerOffVM_Task(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        return self._power(this, "poweredOff")

    def do_RetrievePropertiesEx(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        if this.get("type") != "PropertyCollector":
            raise Fault("InvalidArgument", "_this must be the PropertyCollector")
        spec = call.find(f"{{{VIM}}}specSet")
        if spec is None:
            raise Fault("InvalidArgument", "no specSet")
        kind = spec.findtext(f"{{{VIM}}}propSet/{{{VIM}}}type")
        paths = [p.text for p in spec.findall(f"{{{VIM}}}propSet/{{{VIM}}}pathSet")]
        obj = spec.find(f"{{{VIM}}}objectSet/{{{VIM}}}obj")
        if obj is None:
            raise Fault("InvalidArgument", "no objectSet/obj")
        if obj.get("type") == "ContainerView":
            if obj.text not in self.views:
                raise Fault("ManagedObjectNotFound", "no such view")
            traversal = spec.find(f"{{{VIM}}}objectSet/{{{VIM}}}selectSet")
            if (traversal is None or traversal.get(f"{{{XSI}}}type") != "TraversalSpec"
                    or traversal.findtext(f"{{{VIM}}}path") != "view"
                    or spec.findtext(f"{{{VIM}}}objectSet/{{{VIM}}}skip") != "true"):
                raise Fault("InvalidArgument", "a container view needs a TraversalSpec on view")
            if kind != "VirtualMachine":
                raise Fault("InvalidArgument", "only VirtualMachine")
            objects = [self.vm_object(vm, paths) for vm in self.vms.values()]
        elif obj.get("type") == "VirtualMachine":
            vm = self.vms.get(obj.text or "")
            if vm is None:
                raise Fault("ManagedObjectNotFound", "The object has already been deleted.")
            objects = [self.vm_object(vm, paths)]
        elif obj.get("type") == "Task":
            state, error = self.tasks[obj.text or ""]
            props = [("info.state", f'<val xsi:type="TaskInfoState">{state}</val>')]
            if error:
                props.append(("info.error", (
                    '<val xsi:type="LocalizedMethodFault"><fault xsi:type="InvalidPowerState">'
                    f"</fault><localizedMessage>{error}</localizedMessage></val>")))
            objects = [self.object("Task", obj.text or "", props)]
        else:
            raise Fault("InvalidType", f"unsupported {obj.get('type')}")
        return self.page(objects), None

    def do_ContinueRetrievePropertiesEx(self, call: Any, this: Any, args: dict[str, str]) -> Any:
        token = args.get("token", "")
        if token not in self.tokens:
            raise Fault("InvalidArgument", "unknown token")
        return self.page(self.tokens.pop(token)), None

    def page(self, objects: list[str]) -> str:
        head, rest = objects[: self.page_size], objects[self.page_size:]
        token = ""
        if rest:
            token_id = secrets.token_hex(4)
            self.tokens[token_id] = rest
            token = f"<token>{token_id}</token>"
        return f"<returnval>{token}{''.join(head)}</returnval>" if head else ""

    @staticmethod
    def object(kind: str, moref: str, props: list[tuple[str, str]]) -> str:
        sets = "".join(f"<propSet><name>{n}</name>{v}</propSet>" for n, v in props)
        return f'<objects><obj type="{kind}">{moref}</obj>{sets}</objects>'

    def vm_object(self, vm: VM, paths: list[str]) -> str:
        values = {
            "name": f'<val xsi:type="xsd:string">{vm.name}</val>',
            "config.uuid": f'<val xsi:type="xsd:string">{vm.uuid}</val>',
            "config.instanceUuid": f'<val xsi:type="xsd:string">{vm.instance_uuid}</val>',
            "config.guestId": f'<val xsi:type="xsd:string">{vm.guest_id}</val>',
            "runtime.powerState": f'<val xsi:type="VirtualMachinePowerState">'
                                  f"{vm.power_state}</val>",
            "config.hardware.device": '<val xsi:type="ArrayOfVirtualDevice">' + "".join(
                f'<VirtualDevice xsi:type="VirtualVmxnet3"><key>{4000 + i}</key>'
                f"<macAddress>{mac}</macAddress></VirtualDevice>"
                for i, mac in enumerate(vm.macs)) + (
                '<VirtualDevice xsi:type="VirtualDisk"><key>2000</key></VirtualDevice></val>'),
        }
        unknown = [p for p in paths if p not in values]
        if unknown:
            raise Fault("InvalidProperty", f"unknown property {unknown}")
        return self.object("VirtualMachine", vm.moref, [(p, values[p]) for p in paths])

    # -- envelopes ---------------------------------------------------------------

    @staticmethod
    def envelope(body: str) -> bytes:
        return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
                f'xmlns:soapenv="{SOAPENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                f'xmlns:xsi="{XSI}"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
                ).encode()

    def response(self, method: str, result: str) -> bytes:
        return self.envelope(f'<{method}Response xmlns="{VIM}">{result}</{method}Response>')

    def fault(self, fault: Fault) -> bytes:
        return self.envelope(
            f"<soapenv:Fault><faultcode>ServerFaultCode</faultcode>"
            f"<faultstring>{fault.message}</faultstring><detail>"
            f'<{fault.kind}Fault xmlns="{VIM}" xsi:type="{fault.kind}"/></detail></soapenv:Fault>')


class SDK(Resource):
    isLeaf = True

    def __init__(self, device: FakeVSphere) -> None:
        super().__init__()
        self.device = device

    def render_POST(self, request: Any) -> bytes:
        if not (request.getHeader(b"soapaction") or b"").startswith(b'"urn:vim25/'):
            request.setResponseCode(400)
            return b"missing SOAPAction"
        cookie = request.getHeader(b"cookie")
        body, set_cookie, status = self.device.handle(
            request.content.read(), cookie.decode() if cookie else None)
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        if set_cookie:
            request.setHeader(b"set-cookie", set_cookie.encode())
        return body
