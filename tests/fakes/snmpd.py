"""
A real SNMP agent for the apc tests: Net-SNMP's snmpd on a loopback UDP port.

snmpd answers SNMP (v1 and v2c; ``public`` read-only, ``private``
read-write, both from 127.0.0.1 only) and hands the APC outlet subtree to
``tests/fakes/apc_pdu.py`` through ``pass_persist`` (test-peers.md §5c).
:class:`SNMPAgent` starts it in a private directory, tells what state the
outlets are in and which SETs reached them, and stops it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.maasclient import stop_process

HANDLER = Path(__file__).with_name("apc_pdu.py")

CONFIG = """\
agentAddress udp:127.0.0.1:{port}
rocommunity public 127.0.0.1
rwcommunity private 127.0.0.1
pass_persist .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4 {wrapper}
"""


def find_snmpd() -> str | None:
    return shutil.which("snmpd") or shutil.which("snmpd", path="/usr/sbin:/sbin")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class SNMPAgent:
    """snmpd holding eight APC outlets; all off at the start."""

    def __init__(self, workdir: Path, program: str) -> None:
        self.workdir = workdir
        self.state = workdir / "pdu"
        self.state.mkdir()
        self.port = free_udp_port()
        self.address = f"127.0.0.1:{self.port}"
        wrapper = workdir / "apc_pdu.sh"
        wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {HANDLER} {self.state}\n")
        wrapper.chmod(0o755)
        (workdir / "snmpd.conf").write_text(CONFIG.format(port=self.port, wrapper=wrapper))
        (workdir / "persist").mkdir()
        self.reset()
        self._log = (workdir / "snmpd.log").open("wb")
        self.process = subprocess.Popen(
            [program, "-f", "-Lo", "-C", "-c", str(workdir / "snmpd.conf"),
             "-p", str(workdir / "snmpd.pid")],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MIBS": "",
                 "SNMP_PERSISTENT_DIR": str(workdir / "persist")},
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        """Whether snmpd listens yet; RuntimeError if it died."""
        if self.process.poll() is not None:
            raise RuntimeError(f"snmpd did not start:\n{self.log()}")
        return udp_port_taken(self.port)

    def log(self) -> str:
        return (self.workdir / "snmpd.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process, 5)
        self._log.close()

    # -- the PDU's state ---------------------------------------------------------

    def reset(self) -> None:
        (self.state / "outlets").write_text("2\n" * 8)
        (self.state / "sets.log").write_text("")

    def outlet(self, number: int) -> int:
        return int((self.state / "outlets").read_text().split()[number - 1])

    def set_outlet(self, number: int, value: int) -> None:
        values = (self.state / "outlets").read_text().split()
        values[number - 1] = str(value)
        (self.state / "outlets").write_text("".join(f"{v}\n" for v in values))

    def sets(self) -> list[tuple[int, int]]:
        """Every SET the outlets received since the last reset, as (outlet, value)."""
        lines = (self.state / "sets.log").read_text().split("\n")
        return [(int(a), int(b)) for a, b in (line.split() for line in lines if line)]
