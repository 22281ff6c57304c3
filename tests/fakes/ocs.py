"""
A Microsoft OCS Chassis Manager, as far as blade power and boot go (REST, HTTP Basic, XML answers).

Implements ``GetBladeState``, ``SetBladeOn``, ``SetBladeOff``, ``SetNextBoot``,
``GetChassisInfo`` and ``GetBladeInfo`` with the Chassis Manager's answer
shapes (``*Response`` documents in the WCS contracts namespace, with
``completionCode``/``apiVersion``/``statusDescription``).  A blade id the
chassis does not have gets ``ParameterOutOfRange``; a bad ``SetNextBoot`` query
a ``Failure``.  Every request is recorded in :attr:`FakeOCS.requests` as
``(command, args)``; bad credentials get a 401.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import attrs
from twisted.web.resource import Resource
from twisted.web.server import Request

from tests.fakes.webbase import refuse, seen

NS = "http://schemas.datacontract.org/2004/07/Microsoft.GFS.WCS.Contracts"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@attrs.define
class FakeBlade:
    macs: list[str]
    on: bool = False
    persistent_boot: str = "NoOverride"
    next_boot: str | None = None  # a one-time override
    boots: list[str] = attrs.field(factory=list)  # what each SetBladeOn booted from


def document(kind: str, code: str = "Success", description: str = "", **fields: str) -> bytes:
    parts = [f"<{kind} xmlns=\"{NS}\" xmlns:i=\"{XSI}\">",
             f"<completionCode>{code}</completionCode><apiVersion>1</apiVersion>",
             f"<statusDescription>{escape(description)}</statusDescription>"]
    parts += [f"<{name}>{value}</{name}>" for name, value in fields.items()]
    parts.append(f"</{kind}>")
    return "".join(parts).encode()


def nics(macs: list[str]) -> str:
    items = [*macs, ""]  # a chassis lists absent NICs with an empty macAddress
    return "<bladeMacAddress>" + "".join(
        f"<NicInfo><completionCode>Success</completionCode><apiVersion>1</apiVersion>"
        f"<statusDescription/><deviceId>{i + 1}</deviceId>"
        + (f"<macAddress>{mac}</macAddress>" if mac else "<macAddress/>") + "</NicInfo>"
        for i, mac in enumerate(items)) + "</bladeMacAddress>"


BOOT_TYPES = {"2": "ForcePxe", "3": "ForceDefaultHdd"}


class FakeOCS(Resource):
    isLeaf = True

    def __init__(self, user: str, password: str, blades: dict[str, FakeBlade]) -> None:
        super().__init__()
        self.user = user
        self.password = password
        self.blades = blades
        self.requests: list[tuple[str, dict[str, str]]] = []

    def commands(self) -> list[str]:
        return [command for command, _ in self.requests]

    def render_GET(self, request: Request) -> bytes:
        what = seen(request)
        if (what.user, what.password) != (self.user, self.password):
            return refuse(request, "ChassisManager")
        command = what.path.strip("/")
        args = {name: values[0] for name, values in what.args.items()}
        self.requests.append((command, args))
        request.setHeader("Content-Type", "application/xml; charset=utf-8")
        if command == "GetChassisInfo":
            return self.chassis_info()
        blade_id = args.get("bladeid", "")
        blade = self.blades.get(blade_id)
        if blade is None:
            return document("BladeResponse", "ParameterOutOfRange",
                            f"Blade {blade_id} out of range")
        return self.blade_command(command, blade_id, blade, args)

    def blade_command(self, command: str, blade_id: str, blade: FakeBlade,
                      args: dict[str, str]) -> bytes:
        if command == "GetBladeState":
            return document("BladeStateResponse", bladeNumber=blade_id,
                            bladeState="ON" if blade.on else "OFF")
        if command in ("SetBladeOn", "SetBladeOff"):
            if command == "SetBladeOn" and not blade.on:
                blade.boots.append(blade.next_boot or blade.persistent_boot)
                blade.next_boot = None
            blade.on = command == "SetBladeOn"
            return document("BladeResponse", bladeNumber=blade_id)
        if command == "SetNextBoot":
            boot = BOOT_TYPES.get(args.get("bootType", ""))
            if boot is None or args.get("uefi") not in ("true", "false") \
                    or args.get("persistent") not in ("true", "false"):
                return document("BootResponse", "Failure", "bad boot parameters")
            if args["persistent"] == "true":
                blade.persistent_boot = boot
                blade.next_boot = None
            else:
                blade.next_boot = boot
            return document("BootResponse", "Success", "Success", bladeNumber=blade_id,
                            nextBoot=boot)
        if command == "GetBladeInfo":
            return document("BladeInfoResponse", bladeNumber=blade_id,
                            bladeGuid="", bladeName=f"BLADE{blade_id}",
                            powerState="ON" if blade.on else "OFF") \
                .replace(b"</BladeInfoResponse>", nics(blade.macs).encode()
                         + b"</BladeInfoResponse>")
        return document("BladeResponse", "CommandNotValidForBlade", f"unknown {command}")

    def chassis_info(self) -> bytes:
        infos = "".join(
            f"<BladeInfo><completionCode>Success</completionCode><apiVersion>1</apiVersion>"
            f"<statusDescription/><bladeNumber>{number}</bladeNumber><bladeGuid/>"
            f"<bladeName>BLADE{number}</bladeName>"
            f"<powerState>{'ON' if blade.on else 'OFF'}</powerState>"
            f"<bladeMacAddress/></BladeInfo>"
            for number, blade in self.blades.items())
        return document("ChassisInfoResponse").replace(
            b"</ChassisInfoResponse>",
            f"<bladeCollections>{infos}</bladeCollections></ChassisInfoResponse>".encode())


