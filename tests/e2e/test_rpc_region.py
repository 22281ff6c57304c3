"""
A real ``maas-region serve`` and its RPC port, driven by a tiny blocking AMP
client written here: the handshake, registration, the endpoint list, the
shared-secret command.  The region has a database of its own, so the first
cluster here is the first it ever sees.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import stat
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from twisted.protocols import amp

from rpc.commands.region import ListNodePowerParameters, Register, RegisterV2
from tests.conftest import Server, run_region_command
from tests.maasclient import RegionProcess

pytestmark = pytest.mark.e2e


class RemoteError(Exception):
    def __init__(self, code: bytes, description: bytes) -> None:
        super().__init__(f"{code.decode()}: {description.decode()}")
        self.code = code
        self.description = description.decode()


class TinyCluster:
    """
    A blocking AMP peer that plays a cluster: it answers the region's Identify
    and Authenticate itself (HMAC-SHA256 over message + salt) and calls
    commands, using only ``amp.Command``'s own serialisation.
    """

    def __init__(self, address: tuple[str, int], uuid: str, secret: bytes) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.uuid = uuid
        self.secret = secret
        self.buffer = b""
        self.asks = 0
        self.answered: list[bytes] = []

    def close(self) -> None:
        self.sock.close()

    def _read_box(self) -> dict[bytes, bytes] | None:
        """The next box, or None when the region closed the connection."""
        box: dict[bytes, bytes] = {}
        while True:
            key = self._read_value()
            if key is None:
                return None
            if key == b"":
                return box
            value = self._read_value()
            if value is None:
                return None
            box[key] = value

    def _read_value(self) -> bytes | None:
        while len(self.buffer) < 2:
            if not self._fill():
                return None
        (length,) = struct.unpack("!H", self.buffer[:2])
        while len(self.buffer) < 2 + length:
            if not self._fill():
                return None
        value, self.buffer = self.buffer[2:2 + length], self.buffer[2 + length:]
        return value

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _send(self, box: dict[bytes, bytes]) -> None:
        self.sock.sendall(amp.AmpBox(box).serialize())

    def _answer_region(self, box: dict[bytes, bytes]) -> None:
        command, ask = box[b"_command"], box[b"_ask"]
        self.answered.append(command)
        if command == b"Identify":
            self._send({b"_answer": ask, b"ident": self.uuid.encode()})
        elif command == b"Authenticate":
            salt = secrets.token_bytes(16)
            digest = hmac.new(self.secret, box[b"message"] + salt, hashlib.sha256).digest()
            self._send({b"_answer": ask, b"digest": digest, b"salt": salt})
        else:
            self._send({b"_error": ask, b"_error_code": b"UNHANDLED",
                        b"_error_description": b"not in this test"})

    def pump(self, ask: bytes | None = None) -> dict[bytes, bytes] | None:
        """Serve the region until the answer to ask arrives (None: until it disconnects)."""
        while True:
            box = self._read_box()
            if box is None:
                if ask is None:
                    return None
                raise ConnectionError("the region closed the connection")
            if b"_command" in box:
                self._answer_region(box)
            elif box.get(b"_answer") == ask:
                return box
            elif box.get(b"_error") == ask:
                raise RemoteError(box[b"_error_code"], box[b"_error_description"])

    def call(self, command: type[amp.Command], **kwargs: Any) -> dict[str, Any]:
        self.asks += 1
        ask = str(self.asks).encode()
        box = dict(command.makeArguments(kwargs, None))
        box.update({b"_command": command.commandName, b"_ask": ask})
        self._send(box)
        answer = self.pump(ask)
        assert answer is not None
        return dict(command.parseResponse(amp.AmpBox(answer), None))

    def authenticate_region(self) -> None:
        message = secrets.token_bytes(16)
        answer = self.call_raw(b"Authenticate", {b"message": message})
        expected = hmac.new(self.secret, message + answer[b"salt"], hashlib.sha256).digest()
        assert hmac.compare_digest(expected, answer[b"digest"]), "the region's digest is wrong"

    def call_raw(self, command: bytes, arguments: dict[bytes, bytes]) -> dict[bytes, bytes]:
        self.asks += 1
        ask = str(self.asks).encode()
        self._send({**arguments, b"_command": command, b"_ask": ask})
        answer = self.pump(ask)
        assert answer is not None
        return answer


@pytest.fixture(scope="module")
def rpc_region(pg_server: Server, tmp_root: Path) -> Iterator[RegionProcess]:
    """A region with a database of its own (its placeholder cluster is untouched)."""
    url = pg_server.create_database("maasrpce2e")
    run_region_command(url, "migrate")
    process = RegionProcess.start(url, tmp_root / "region-rpc.log")
    try:
        yield process
    finally:
        process.stop()


def eventloops(region: RegionProcess) -> dict[str, list[list[Any]]]:
    deadline = time.monotonic() + 15
    while True:
        response = requests.get(region.url + "/MAAS/rpc/", timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        found = response.json()["eventloops"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def rpc_address(region: RegionProcess) -> tuple[str, int]:
    [(address, port)] = next(iter(eventloops(region).values()))
    return address, port


def shared_secret(region: RegionProcess) -> bytes:
    result = region.command("shared-secret")
    assert result.returncode == 0, result.stderr
    return bytes.fromhex(result.stdout.strip())


def nodegroup_statuses(region: RegionProcess) -> dict[str, int]:
    connection = psycopg2.connect(region.database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT uuid, status FROM nodegroups")
            return dict(cursor.fetchall())
    finally:
        connection.close()


def test_rpc_endpoint_is_published(rpc_region: RegionProcess) -> None:
    """GET /MAAS/rpc/ (anonymous) lists this region process and its loopback endpoint."""
    found = eventloops(rpc_region)
    [(name, endpoints)] = found.items()
    assert ":pid=" in name
    assert len(endpoints) == 1 and endpoints[0][0] == "127.0.0.1"
    assert isinstance(endpoints[0][1], int)
    assert requests.get(rpc_region.url + "/MAAS/rpc", timeout=10).json()["eventloops"] == found
    assert requests.get(rpc_region.url + "/MAAS/rpcx", timeout=10).status_code == 404
    assert requests.post(rpc_region.url + "/MAAS/rpc/", timeout=10).status_code == 405


def test_shared_secret_command(rpc_region: RegionProcess, tmp_path: Path) -> None:
    """shared-secret prints the same hex secret every time and can write it to a file."""
    first = rpc_region.command("shared-secret")
    again = rpc_region.command("shared-secret", "--write", str(tmp_path / "secret"))
    assert first.returncode == again.returncode == 0, again.stderr
    assert first.stdout == again.stdout
    assert len(bytes.fromhex(first.stdout.strip())) == 16
    written = tmp_path / "secret"
    assert written.read_text().strip() == first.stdout.strip()
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o640
    bad = rpc_region.command("shared-secret", "--write", str(tmp_path / "no" / "dir" / "x"))
    assert bad.returncode == 1 and "Cannot write" in bad.stderr
    assert first.stdout.strip() not in rpc_region.log_text()


def test_a_wrong_secret_is_dropped(rpc_region: RegionProcess) -> None:
    """A peer without the secret is disconnected after answering the challenge."""
    peer = TinyCluster(rpc_address(rpc_region), "intruder", b"not the secret!!")
    try:
        assert peer.pump() is None  # served the challenge, then the region hung up
        assert peer.answered == [b"Authenticate"]
    finally:
        peer.close()
    assert "intruder" not in nodegroup_statuses(rpc_region)


def test_first_cluster_is_accepted_and_the_second_waits(rpc_region: RegionProcess) -> None:
    """The first cluster takes over the master placeholder; the next one is pending."""
    secret = shared_secret(rpc_region)
    address = rpc_address(rpc_region)
    first = TinyCluster(address, "e2e-first", secret)
    second = TinyCluster(address, "e2e-second", secret)
    try:
        first.authenticate_region()
        answer = first.call(RegisterV2, uuid="e2e-first", networks=[
            {"interface": "eth0", "ip": "10.55.0.1", "subnet_mask": "255.255.0.0"}])
        assert answer["status"].value == "ACCEPTED"
        assert set(first.answered) == {b"Authenticate", b"Identify"}
        assert first.call(ListNodePowerParameters, uuid="e2e-first") == {"nodes": []}

        second.authenticate_region()
        assert second.call(RegisterV2, uuid="e2e-second")["status"].value == "PENDING"
        with pytest.raises(RemoteError) as raised:
            second.call(Register, uuid="e2e-second")
        assert raised.value.code == b"CannotRegisterCluster"
        assert "accept" in raised.value.description
        with pytest.raises(RemoteError) as raised:
            second.call(ListNodePowerParameters, uuid="e2e-second")
        assert raised.value.code == b"NotAuthenticated"
    finally:
        first.close()
        second.close()
    statuses = nodegroup_statuses(rpc_region)
    assert statuses["e2e-first"] == 1 and statuses["e2e-second"] == 0
    assert "master" not in statuses
    log = rpc_region.log_text()
    assert "Cluster e2e-first connected" in log
    assert "Cluster e2e-second registered: PENDING" in log
    assert secret.hex() not in log
