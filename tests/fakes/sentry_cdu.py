"""
A Sentry Switched CDU on telnet, as far as fence-agents' ``fence_cdu`` talks to one.

The prompt set (``Username:``, ``Password:``, ``Switched CDU:``), the
``VERSION`` banner (``Sentry Switched CDU Version 6.0g``), and the ``STATUS``,
``LIST OUTLETS``, ``ON <id>``, ``OFF <id>`` and ``LOGOUT`` commands with their
table layouts, for firmware 6 (outlet ids ``.A1``) and 8 (``AA1``, ``STATUS
ALL``).  Outlets keep their state; every line received after login is
recorded in :attr:`SentryCDU.commands` and every login attempt in
:attr:`SentryCDU.logins`, so a test checks what the client did.
"""

from __future__ import annotations

from typing import Any

from twisted.conch.telnet import ECHO, SGA, TelnetProtocol, TelnetTransport
from twisted.internet.protocol import ServerFactory

PROMPT = {6: "Switched CDU: ", 8: "Switched PDU: "}
VERSION = {6: "Sentry Switched CDU Version 6.0g", 8: "Sentry Switched PDU Version 8.0i"}


class SentryCDU(ServerFactory):
    """The device: users, outlets (id → [name, "On"|"Off"]) and what was done."""

    def __init__(self, user: str, password: str, outlets: dict[str, str], version: int = 6,
                 max_failures: int = 2) -> None:
        self.user = user
        self.password = password
        self.version = version
        self.max_failures = max_failures
        prefix = ".A" if version == 6 else "AA"
        self.outlets = {f"{prefix}{i}": [name, state]
                        for i, (name, state) in enumerate(outlets.items(), start=1)}
        self.commands: list[str] = []
        self.logins: list[tuple[str, bool]] = []
        self.connections = 0

    def buildProtocol(self, addr: Any) -> TelnetTransport:
        self.connections += 1
        transport = TelnetTransport(SentrySession, self)
        transport.factory = self
        return transport

    def state(self, name: str) -> str:
        for outlet_name, state in self.outlets.values():
            if outlet_name == name:
                return state.lower()
        raise KeyError(name)

    def set_state(self, name: str, state: str) -> None:
        for outlet in self.outlets.values():
            if outlet[0] == name:
                outlet[1] = state.capitalize()
                return
        raise KeyError(name)

    def reset(self) -> None:
        self.commands.clear()
        self.logins.clear()


class SentrySession(TelnetProtocol):
    def __init__(self, device: SentryCDU) -> None:
        self.device = device
        self.buffer = b""
        self.last_cr = False
        self.stage = "user"
        self.user = ""
        self.failures = 0

    # -- line handling: CR LF, CR NUL, CR and LF all end a line ----------------

    def connectionMade(self) -> None:
        # Character mode, as embedded telnet servers do: we echo (except the
        # password), and the client sends each key as typed (CR LF as CR LF).
        assert self.transport is not None
        self.transport.will(ECHO).addErrback(lambda _: None)
        self.transport.will(SGA).addErrback(lambda _: None)
        self.write(f"\r\n{VERSION[self.device.version]} (Build 2)\r\n\r\nUsername: ")

    def enableLocal(self, option: bytes) -> bool:
        return option in (ECHO, SGA)

    def enableRemote(self, option: bytes) -> bool:
        return option == SGA

    def disableLocal(self, option: bytes) -> None:
        pass

    def disableRemote(self, option: bytes) -> None:
        pass

    def write(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(text.encode())

    def dataReceived(self, data: bytes) -> None:
        for byte in data:
            char = bytes([byte])
            if char in (b"\r", b"\n", b"\0"):
                if char != b"\r" and self.last_cr:
                    self.last_cr = False  # the LF or NUL after a CR
                    continue
                self.last_cr = char == b"\r"
                line, self.buffer = self.buffer.decode("utf-8", "replace"), b""
                self.lineReceived(line)
            else:
                self.last_cr = False
                self.buffer += char
                if self.stage != "password":
                    assert self.transport is not None
                    self.transport.write(char)  # echo

    def lineReceived(self, line: str) -> None:
        if self.stage == "user":
            if not line.strip():
                self.write("\r\nUsername: ")
                return
            self.user = line.strip()
            self.stage = "password"
            self.write("\r\nPassword: ")
        elif self.stage == "password":
            ok = self.user == self.device.user and line == self.device.password
            self.device.logins.append((self.user, ok))
            if ok:
                self.stage = "shell"
                self.write(f"\r\n\r\nLocation:\r\n{PROMPT[self.device.version]}")
                return
            self.failures += 1
            self.write("\r\n\r\nAccess denied\r\n\r\n")
            if self.failures >= self.device.max_failures:
                assert self.transport is not None
                self.transport.loseConnection()
                return
            self.stage = "user"
            self.write("Username: ")
        else:
            self.command(line.strip())

    # -- the CLI -----------------------------------------------------------------

    def command(self, line: str) -> None:
        device = self.device
        prompt = PROMPT[device.version]
        words = line.split()
        if not words:
            self.write(f"\r\n{prompt}")
            return
        device.commands.append(line)
        verb = " ".join(words[:2]).upper() if len(words) > 1 else words[0].upper()
        if words[0].upper() == "LOGOUT" or words[0].upper() in ("QUIT", "EXIT"):
            assert self.transport is not None
            self.transport.loseConnection()
            return
        if words[0].upper() == "VERSION":
            self.write(f"\r\n\r\n {VERSION[device.version]}\r\n\r\n{prompt}")
        elif verb == "SET OPTION":
            self.write(f"\r\n\r\n   Command successful\r\n\r\n{prompt}")
        elif (device.version == 6 and line.upper() == "STATUS") or (
                device.version == 8 and line.upper() == "STATUS ALL"):
            self.write("\r\n\r\n" + self.status_table() + f"\r\n{prompt}")
        elif line.upper() == "LIST OUTLETS":
            rows = "".join(f"   {oid:<8} {name:<24}\r\n"
                           for oid, (name, _) in device.outlets.items())
            self.write(f"\r\n\r\n   Outlet   Outlet\r\n   ID       Name\r\n\r\n{rows}\r\n{prompt}")
        elif words[0].upper() in ("ON", "OFF") and len(words) == 2:
            outlet = device.outlets.get(words[1].upper())
            if outlet is None:
                self.write(f"\r\n\r\n   Outlet not found\r\n\r\n{prompt}")
                return
            outlet[1] = words[0].capitalize()
            self.write(f"\r\n\r\n   Command successful\r\n\r\n{prompt}")
        else:
            self.write(f"\r\n\r\n   Invalid command\r\n\r\n{prompt}")

    def status_table(self) -> str:
        rows = []
        if self.device.version == 6:
            rows.append("   Outlet   Outlet                   Outlet     Control\r\n"
                        "   ID       Name                     Status     State\r\n\r\n")
            for oid, (name, state) in self.device.outlets.items():
                control = "On" if state == "On" else "Off"
                rows.append(f"   {oid:<8} {name:<24} {state:<10} {control}\r\n")
        else:
            rows.append("   Outlet   Outlet                   Control    Outlet\r\n"
                        "   ID       Name                     State      Status\r\n\r\n")
            for oid, (name, state) in self.device.outlets.items():
                control = "On" if state == "On" else "Off"
                rows.append(f"   {oid:<8} {name:<24} {control:<10} {state:<6} Normal\r\n")
        return "".join(rows)
