"""
An HP Moonshot iLO Chassis Manager's SSH CLI, as far as MAAS uses it (Twisted Conch server).

Password login (``password`` and ``keyboard-interactive``) checked by a
Twisted cred checker; an ed25519 host key; each ``exec`` request runs one CLI
command and is recorded in :attr:`FakeMSCM.commands`.  Commands (output
layouts as the MSCM prints them, CR LF line ends):

- ``show node power cXnY`` → ``Cartridge #X`` / ``Node #Y`` / ``Power State: On|Off``
- ``set node power on cXnY``, ``set node power off [force] cXnY``
- ``set node bootonce pxe cXnY``
- ``show node list``, ``show node macaddr all|cXnY``, ``show node info cXnY``

An unknown node or command prints an error (exit status 0, as the CLI does).
"""

from __future__ import annotations

import struct
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch.avatar import ConchUser
from twisted.conch.ssh import common, keys
from twisted.conch.ssh.channel import SSHChannel
from twisted.conch.ssh.factory import SSHFactory
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from zope.interface import implementer


@attrs.define
class Node:
    node_id: str
    product: str
    macs: list[str]
    power: str = "Off"
    boot_once: str | None = None


class FakeMSCM:
    def __init__(self, user: str, password: str, nodes: list[Node]) -> None:
        self.user = user
        self.password = password
        self.nodes = {node.node_id: node for node in nodes}
        self.commands: list[str] = []
        self.host_key = keys.Key(ed25519.Ed25519PrivateKey.generate())
        self.logins = 0

    def factory(self) -> SSHFactory:
        device = self

        @implementer(IRealm)
        class Realm:
            def requestAvatar(self, avatar_id: Any, mind: Any, *interfaces: Any) -> Any:
                device.logins += 1
                return interfaces[0], CLIUser(device), lambda: None

        factory = SSHFactory()
        factory.portal = Portal(Realm(), [
            InMemoryUsernamePasswordDatabaseDontUse(**{self.user: self.password.encode()})])
        factory.publicKeys = {b"ssh-ed25519": self.host_key.public()}
        factory.privateKeys = {b"ssh-ed25519": self.host_key}
        return factory

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    # -- the CLI -----------------------------------------------------------------

    def run(self, command: str) -> str:
        self.commands.append(command)
        words = command.split()
        lowered = [w.lower() for w in words]
        echo = f"{command}\r\r\n"
        if lowered[:3] == ["show", "node", "power"] and len(words) == 4:
            node = self.nodes.get(words[3])
            if node is None:
                return echo + self.invalid(words[3])
            cartridge, number = node.node_id[1:].split("n")
            return (echo + f"\r\nCartridge #{cartridge}\r\n  Node #{number}\r\n"
                           f"        Power State: {node.power}\r\n")
        if lowered[:4] == ["set", "node", "power", "on"] and len(words) == 5:
            return echo + self.set_power(words[4], "On")
        if lowered[:4] == ["set", "node", "power", "off"] and len(words) in (5, 6):
            if len(words) == 6 and lowered[4] != "force":
                return echo + "Error: Invalid command.\r\n"
            return echo + self.set_power(words[-1], "Off")
        if lowered[:4] == ["set", "node", "bootonce", "pxe"] and len(words) == 5:
            node = self.nodes.get(words[4])
            if node is None:
                return echo + self.invalid(words[4])
            node.boot_once = "pxe"
            return echo + f"\r\n{node.node_id}: Boot once device set to PXE.\r\n"
        if lowered == ["show", "node", "list"]:
            rows = "".join(
                f" {i:02d}  {n.node_id:<5} Intel Corporation      x86 Architecture     "
                f"32 GB  {n.power:<5} OK \r\n" for i, n in enumerate(self.nodes.values(), 1))
            return (echo + "Slot ID    Proc Manufacturer      Architecture         Memory Power"
                    " Health\r\n---- ----- ---------------------- -------------------- ------ "
                    "----- ------\r\n" + rows + "\r\n")
        if lowered[:3] == ["show", "node", "macaddr"] and len(words) == 4:
            chosen = list(self.nodes.values()) if lowered[3] == "all" else [
                n for n in self.nodes.values() if n.node_id == words[3]]
            if not chosen:
                return echo + self.invalid(words[3])
            rows = "".join(f"  {i}  {n.node_id}  {' '.join(n.macs)}\r\n"
                           for i, n in enumerate(chosen, 1))
            return (echo + "Slot ID    NIC 1 (Switch A)  NIC 2 (Switch B)  NIC 3 (Switch A)  "
                    "NIC 4 (Switch B)\r\n---- ----- ----------------- ----------------- "
                    "----------------- -----------------\r\n" + rows + "\r\n\r\n")
        if lowered[:3] == ["show", "node", "info"] and len(words) == 4:
            node = self.nodes.get(words[3])
            if node is None:
                return echo + self.invalid(words[3])
            cartridge = node.node_id[1:].split("n")[0]
            return (echo + f"\r\nCartridge #{cartridge} \r\n  Type: Compute\r\n"
                           f"  Manufacturer: HP\r\n  Product Name: {node.product}\r\n")
        return echo + "Error: Invalid command.\r\n"

    def set_power(self, node_id: str, state: str) -> str:
        node = self.nodes.get(node_id)
        if node is None:
            return self.invalid(node_id)
        node.power = state
        return f"\r\n{node_id}: Successfully set power {state.lower()}.\r\n"

    @staticmethod
    def invalid(node_id: str) -> str:
        return f"\r\nError: Node {node_id} is not present or invalid.\r\n"


class CLIUser(ConchUser):
    def __init__(self, device: FakeMSCM) -> None:
        super().__init__()
        self.device = device
        self.channelLookup[b"session"] = CLISession


class CLISession(SSHChannel):
    name = b"session"

    def request_exec(self, data: bytes) -> int:
        command = common.getNS(data)[0].decode("utf-8", errors="replace")
        output = self.avatar.device.run(command)
        self.write(output.encode())
        self.conn.sendRequest(self, b"exit-status", struct.pack(">L", 0))
        self.loseConnection()
        return 1

    def request_pty_req(self, data: bytes) -> int:
        return 0

    def request_shell(self, data: bytes) -> int:
        return 0  # this fake has only the exec interface
