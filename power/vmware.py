"""
The ``vmware`` power driver: a VM on vCenter or ESXi, through the vSphere SOAP API (vim25).

MAAS 1.8 used pyVmomi; this driver speaks the same SOAP API directly with
Twisted's HTTP client and lxml.  The facts it uses:

- endpoint ``PROTOCOL://HOST[:PORT]/sdk``, SOAP 1.1, namespace ``urn:vim25``,
  header ``SOAPAction: "urn:vim25/6.0"``;
- ``power_protocol``: empty or ``https`` (certificate checked), ``http``, or
  ``https+unverified`` (any certificate: self-signed ESXi hosts; 1.8's
  spelling); ``power_port`` overrides the port, which may also come from
  ``power_address`` as ``host:port``;
- session: ``RetrieveServiceContent`` on ``ServiceInstance`` (the
  ``SessionManager``, ``SearchIndex``, ``ViewManager``, ``PropertyCollector``
  and root folder), ``Login`` (the ``vmware_soap_session`` cookie;
  an ``InvalidLogin`` fault is a :class:`PowerAuthError`), ``Logout`` at the end;
- finding the VM: by ``power_uuid`` with ``FindByUuid`` (``vmSearch`` true,
  first as an instance UUID, then as a BIOS UUID, as 1.8 did), else by
  ``power_vm_name`` among the VMs a recursive ``ContainerView`` of the root
  folder lists (``RetrievePropertiesEx``/``ContinueRetrievePropertiesEx`` of
  ``name``);
- **query**: ``runtime.powerState``: ``poweredOn`` and ``suspended`` are on (as
  1.8 said), ``poweredOff`` is off;
- **on**: ``PowerOnVM_Task`` unless the VM is ``poweredOn``; **off**:
  ``PowerOffVM_Task`` unless it is ``poweredOff``; then the task's
  ``info.state`` is polled until ``success`` or ``error`` (1.8 fired and
  forgot; we report the task's error).

:func:`list_machines` lists every VM (name, UUID, MACs, architecture, power
state) for the probe: ``amd64`` when the guest id contains ``64``, else
``i386`` (1.8's rule); the instance UUID, else the BIOS UUID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from twisted.internet import defer
from twisted.internet.task import deferLater

from power import soap
from power.address import AddressError, parse_address
from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
)
from power.http import request
from power.redact import scrub

VIM = "urn:vim25"
SOAP_ACTION = '"urn:vim25/6.0"'
PROTOCOLS = {"": "https", "https": "https", "http": "http", "https+unverified": "https"}

POWER_STATES = {"poweredOn": "on", "suspended": "on", "poweredOff": "off"}


@attrs.frozen
class MoRef:
    """A managed object reference: its type and id (``VirtualMachine``, ``vm-42``)."""

    type: str
    value: str


@attrs.frozen
class VMwareMachine:
    name: str
    uuid: str
    macs: tuple[str, ...]
    architecture: str
    power_state: str


@attrs.frozen(repr=False)
class Endpoint:
    url: str
    verify_tls: bool
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Endpoint({self.url}, user={self.username!r})"


def endpoint(params: Mapping[str, Any], default_user: str = "") -> Endpoint:
    """Where and how to talk to vSphere, from the power parameters."""
    address_text = str(params.get("power_address") or "").strip()
    if not address_text:
        raise PowerSettingError("The power parameter power_address (VMware hostname) is not set.")
    try:
        address = parse_address(address_text)
    except AddressError as error:
        raise PowerSettingError(f"Bad power_address: {error}") from None
    protocol = str(params.get("power_protocol") or "").strip().lower()
    if protocol not in PROTOCOLS:
        raise PowerSettingError(
            f"power_protocol must be one of https, http, https+unverified, not '{protocol}'.")
    scheme = PROTOCOLS[protocol]
    port_text = str(params.get("power_port") or "").strip()
    port = address.port
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise PowerSettingError(f"power_port must be a port number, not '{port_text}'.")
        port = int(port_text)
    host = f"[{address.host}]" if address.is_ipv6 else address.host
    netloc = host if port is None else f"{host}:{port}"
    return Endpoint(f"{scheme}://{netloc}/sdk", protocol != "https+unverified",
                    str(params.get("power_user") or default_user),
                    str(params.get("power_pass") or ""))


def _this(parent: Any, ref: MoRef, name: str = "_this") -> None:
    soap.sub(parent, VIM, name, ref.value, {"type": ref.type})


def _ref(node: Any) -> MoRef:
    return MoRef(node.get("type") or "", (node.text or "").strip())


class VSphereSession:
    """One logged-in session to a vSphere endpoint (used inside one driver call)."""

    def __init__(self, reactor: Any, target: Endpoint, *, clock: Any,
                 request_timeout: float, connect_timeout: float) -> None:
        self.reactor = reactor
        self.target = target
        self.clock = clock
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.cookie: str | None = None
        self.content: dict[str, MoRef] = {}

    async def call(self, method: str, *arguments: tuple[str, Any]) -> Any:
        """Invoke method; arguments are (name, MoRef | str | element builder)."""
        call = soap.element(VIM, method, nsmap={None: VIM})
        for name, value in arguments:
            if isinstance(value, MoRef):
                _this(call, value, name)
            elif callable(value):
                value(soap.sub(call, VIM, name))
            else:
                soap.sub(call, VIM, name, str(value))
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION}
        if self.cookie:
            headers["Cookie"] = self.cookie
        response = await request(
            self.reactor, "POST", self.target.url, headers=headers,
            body=soap.envelope([call]), timeout=self.request_timeout,
            connect_timeout=self.connect_timeout, verify_tls=self.target.verify_tls,
            clock=self.clock,
        )
        try:
            result = soap.payload(response.body)
        except soap.SOAPFault as fault:
            if fault.mentions("InvalidLogin", "NoPermission", "NotAuthenticated"):
                raise PowerAuthError(f"vSphere refused {method}: {fault.reason}") from None
            if fault.mentions("ManagedObjectNotFound"):
                raise PowerSettingError(f"vSphere has no such object: {fault.reason}") from None
            raise PowerActionError(f"vSphere {method} failed: {fault.reason}") from None
        except soap.SOAPError as error:
            raise PowerConnError(
                f"{self.target.url} answered HTTP {response.status} to {method} "
                f"without a SOAP envelope ({error}); is it a vSphere endpoint?") from None
        cookie = response.header("set-cookie")
        if cookie and method == "Login":
            self.cookie = cookie.split(";", 1)[0].strip()
        return result

    async def login(self) -> None:
        result = await self.call("RetrieveServiceContent",
                                 ("_this", MoRef("ServiceInstance", "ServiceInstance")))
        returnval = soap.child(result, "returnval")
        if returnval is None:
            raise PowerActionError("vSphere sent no service content.")
        for name in ("rootFolder", "propertyCollector", "viewManager", "sessionManager",
                     "searchIndex"):
            node = soap.child(returnval, name)
            if node is not None:
                self.content[name] = _ref(node)
        if "sessionManager" not in self.content:
            raise PowerActionError("vSphere's service content has no session manager.")
        await self.call("Login", ("_this", self.content["sessionManager"]),
                        ("userName", self.target.username), ("password", self.target.password))
        if not self.cookie:
            raise PowerActionError("vSphere accepted the login but set no session cookie.")

    async def logout(self) -> None:
        try:
            await self.call("Logout", ("_this", self.content["sessionManager"]))
        except Exception:  # noqa: S110 (best effort: the session expires anyway)
            pass

    async def find_by_uuid(self, uuid: str) -> MoRef | None:
        for instance in ("true", "false"):
            result = await self.call(
                "FindByUuid", ("_this", self.content["searchIndex"]), ("uuid", uuid),
                ("vmSearch", "true"), ("instanceUuid", instance))
            found = soap.child(result, "returnval")
            if found is not None and found.text:
                return _ref(found)
        return None

    async def retrieve(self, spec_builder: Any) -> list[tuple[MoRef, dict[str, Any]]]:
        """RetrievePropertiesEx (then ContinueRetrievePropertiesEx): [(object, {path: val})]."""
        collector = self.content["propertyCollector"]
        result = await self.call("RetrievePropertiesEx", ("_this", collector),
                                 ("specSet", spec_builder),
                                 ("options", lambda o: soap.sub(o, VIM, "maxObjects", "100")))
        objects: list[tuple[MoRef, dict[str, Any]]] = []
        for _ in range(10_000):
            returnval = soap.child(result, "returnval")
            if returnval is None:
                break
            for item in soap.children(returnval, "objects"):
                obj = soap.child(item, "obj")
                if obj is None:
                    continue
                values = {soap.child_text(p, "name"): soap.child(p, "val")
                          for p in soap.children(item, "propSet")}
                objects.append((_ref(obj), values))
            token = soap.child_text(returnval, "token")
            if not token:
                break
            result = await self.call("ContinueRetrievePropertiesEx", ("_this", collector),
                                     ("token", token))
        return objects

    async def properties(self, obj: MoRef, *paths: str) -> dict[str, Any]:
        def spec(node: Any) -> None:
            prop = soap.sub(node, VIM, "propSet")
            soap.sub(prop, VIM, "type", obj.type)
            for path in paths:
                soap.sub(prop, VIM, "pathSet", path)
            target = soap.sub(node, VIM, "objectSet")
            _this(target, obj, "obj")

        found = await self.retrieve(spec)
        return found[0][1] if found else {}

    async def all_vms(self, *paths: str) -> list[tuple[MoRef, dict[str, Any]]]:
        """Every VM below the root folder, with the given properties."""
        view_result = await self.call(
            "CreateContainerView", ("_this", self.content["viewManager"]),
            ("container", self.content["rootFolder"]), ("type", "VirtualMachine"),
            ("recursive", "true"))
        view_node = soap.child(view_result, "returnval")
        if view_node is None:
            raise PowerActionError("vSphere created no container view.")
        view = _ref(view_node)

        def spec(node: Any) -> None:
            prop = soap.sub(node, VIM, "propSet")
            soap.sub(prop, VIM, "type", "VirtualMachine")
            for path in paths:
                soap.sub(prop, VIM, "pathSet", path)
            target = soap.sub(node, VIM, "objectSet")
            _this(target, view, "obj")
            soap.sub(target, VIM, "skip", "true")
            traversal = soap.sub(target, VIM, "selectSet",
                                 attrib={soap.qname(soap.XSI, "type"): "TraversalSpec"})
            soap.sub(traversal, VIM, "name", "traverseView")
            soap.sub(traversal, VIM, "type", "ContainerView")
            soap.sub(traversal, VIM, "path", "view")
            soap.sub(traversal, VIM, "skip", "false")

        try:
            return await self.retrieve(spec)
        finally:
            try:
                await self.call("DestroyView", ("_this", view))
            except Exception:  # noqa: S110 (the view dies with the session)
                pass

    async def wait_for_task(self, task: MoRef, poll: float) -> None:
        while True:
            values = await self.properties(task, "info.state", "info.error")
            state_node = values.get("info.state")
            state = (state_node.text or "").strip() if state_node is not None else ""
            if state == "success":
                return
            if state == "error":
                error = values.get("info.error")
                message = ""
                if error is not None:
                    message = soap.child_text(error, "localizedMessage")
                    fault = soap.child(error, "fault")
                    if not message and fault is not None:
                        message = (fault.get(soap.qname(soap.XSI, "type")) or "").strip()
                raise PowerActionError(f"vSphere task {task.value} failed: {message or '?'}")
            await deferLater(self.clock, poll, lambda: None)


def _text(node: Any) -> str:
    return (node.text or "").strip() if node is not None else ""


class VMwarePowerDriver(PowerDriver):
    """
    Power a VMware VM through vCenter or ESXi.

    :param task_poll: seconds between polls of a power task's state.
    """

    power_type = "vmware"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        task_poll: float = 0.5,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.task_poll = task_poll
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout

    def session(self, target: Endpoint) -> VSphereSession:
        return VSphereSession(self.reactor, target, clock=self.clock,
                              request_timeout=self.request_timeout,
                              connect_timeout=self.connect_timeout)

    async def _find_vm(self, session: VSphereSession, params: Mapping[str, Any]) -> MoRef:
        uuid = self.get_setting(params, "power_uuid")
        name = self.get_setting(params, "power_vm_name")
        if uuid:
            found = await session.find_by_uuid(uuid)
            if found is not None:
                return found
            if not name:
                raise PowerSettingError(f"vSphere has no VM with UUID {uuid}.")
        if not name:
            raise PowerSettingError("Neither power_uuid nor power_vm_name is set.")
        for ref, values in await session.all_vms("name"):
            if _text(values.get("name")) == name:
                return ref
        raise PowerSettingError(f"vSphere has no VM named '{name}'.")

    async def _state(self, session: VSphereSession, vm: MoRef) -> str:
        values = await session.properties(vm, "runtime.powerState")
        state = _text(values.get("runtime.powerState"))
        if state not in POWER_STATES:
            raise PowerActionError(f"VM {vm.value} is in an unknown power state: '{state}'.")
        return state

    async def _with_vm(self, params: Mapping[str, Any], action: str) -> str:
        session = self.session(endpoint(params))
        await session.login()
        try:
            vm = await self._find_vm(session, params)
            state = await self._state(session, vm)
            if action == "query":
                return POWER_STATES[state]
            wanted = "poweredOn" if action == "on" else "poweredOff"
            if state != wanted:
                method = "PowerOnVM_Task" if action == "on" else "PowerOffVM_Task"
                result = await session.call(method, ("_this", vm))
                task = soap.child(result, "returnval")
                if task is not None and task.text:
                    await session.wait_for_task(_ref(task), self.task_poll)
            return action
        finally:
            await session.logout()

    async def power_query(self, params: Mapping[str, Any]) -> str:
        return await self._with_vm(params, "query")

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._with_vm(params, "on")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._with_vm(params, "off")

    async def machines(self, params: Mapping[str, Any]) -> list[VMwareMachine]:
        session = self.session(endpoint(params))
        await session.login()
        try:
            found = await session.all_vms(
                "name", "config.uuid", "config.instanceUuid", "config.guestId",
                "runtime.powerState", "config.hardware.device")
        finally:
            await session.logout()
        machines = []
        for _, values in found:
            devices = values.get("config.hardware.device")
            macs = tuple(
                _text(mac).lower() for mac in
                (soap.descendants(devices, "macAddress") if devices is not None else [])
                if _text(mac)
            )
            guest = _text(values.get("config.guestId"))
            machines.append(VMwareMachine(
                name=_text(values.get("name")),
                uuid=_text(values.get("config.instanceUuid")) or _text(values.get("config.uuid")),
                macs=macs,
                architecture="amd64/generic" if "64" in guest else "i386/generic",
                power_state=POWER_STATES.get(_text(values.get("runtime.powerState")), "unknown"),
            ))
        return machines


async def list_machines(
    reactor: Any,
    host: str,
    username: str,
    password: str,
    *,
    port: str | int | None = None,
    protocol: str | None = None,
    timeout: float = 300.0,  # noqa: ASYNC109 (enforced with addTimeout)
    clock: Any | None = None,
    **driver_options: Any,
) -> list[VMwareMachine]:
    """Every VM a vCenter/ESXi knows, for ``probe_and_enlist_hardware``; bounded by timeout."""
    driver = VMwarePowerDriver(reactor, clock=clock, **driver_options)
    params = {"power_address": host, "power_user": username, "power_pass": password,
              "power_port": "" if port is None else str(port), "power_protocol": protocol or ""}
    call = defer.Deferred.fromCoroutine(driver.machines(params))
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        error: PowerError = PowerConnError(f"Listing the VMs took longer than {timeout:g} s.")
    except PowerError as failed:
        error = failed.with_message(scrub(str(failed), [password]))
    raise error
