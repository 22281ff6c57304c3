"""
The redfish driver against sushy-tools' Redfish emulator (PyPI ``sushy-tools``), over HTTPS.

The emulator runs with its fake systems driver (no libvirt needed), HTTP
Basic authentication from an htpasswd file (bcrypt) and a self-signed
certificate, in its own process on a loopback port.  Session authentication,
which the emulator lacks, is checked against ``tests/fakes/redfish_sessions``.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from power.errors import PowerAuthError, PowerConnError, PowerSettingError
from power.http import BasicAuth, request
from power.redfish import RedfishPowerDriver
from tests.fakes.redfish_sessions import SYSTEM, FakeRedfishSessions
from tests.fakes.webbase import listen

USER, PASSWORD = "redfish-admin", "Rf:pa$$w0rd"
UUID1 = "27946b59-9e44-4fa7-8e91-f3527a1ef094"
UUID2 = "8c3b26e4-7d46-4c0f-a3d0-5f1f7ed1e1a2"
LAUNCHER = Path(__file__).resolve().parents[2] / "fakes" / "sushy_emulator.py"

CONFIG = """\
SUSHY_EMULATOR_LISTEN_IP = "127.0.0.1"
SUSHY_EMULATOR_LISTEN_PORT = {port}
SUSHY_EMULATOR_AUTH_FILE = {auth!r}
SUSHY_EMULATOR_SSL_CERT = {cert!r}
SUSHY_EMULATOR_SSL_KEY = {key!r}
SUSHY_EMULATOR_STATE_DIR = {state!r}
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_FAKE_SYSTEMS = [
    {{"uuid": "{uuid1}", "name": "node1", "power_state": "Off",
      "nics": [{{"mac": "52:54:00:aa:00:01", "ip": "127.0.0.2"}}]}},
    {{"uuid": "{uuid2}", "name": "node2", "power_state": "On",
      "nics": [{{"mac": "52:54:00:aa:00:02", "ip": "127.0.0.3"}}]}},
]
"""


def self_signed(workdir: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bmc.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    (workdir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (workdir / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return workdir / "cert.pem", workdir / "key.pem"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Emulator:
    def __init__(self, workdir: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.workdir = workdir
        self.port = port
        self.process = process
        self.address = f"127.0.0.1:{port}"

    def log(self) -> str:
        return (self.workdir / "emulator.log").read_text(errors="replace")

    def actions(self) -> list[str]:
        """The reset types the emulator was asked for, in order."""
        return [line.split('power state set to "', 1)[1].split('"')[0]
                for line in self.log().splitlines() if "power state set to" in line]


@pytest.fixture(scope="module")
def emulator(reactor: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    if importlib.util.find_spec("sushy_tools") is None:
        pytest.skip("sushy-tools is not installed (pip install -e '.[test]')")
    import bcrypt

    workdir = tmp_path_factory.mktemp("sushy")
    port = free_tcp_port()
    cert, key = self_signed(workdir)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (workdir / "htpasswd").write_text(f"{USER}:{hashed}\n")
    (workdir / "emulator.conf").write_text(CONFIG.format(
        port=port, auth=str(workdir / "htpasswd"), cert=str(cert), key=str(key),
        state=str(workdir / "state"),
        uuid1=UUID1, uuid2=UUID2))
    log = (workdir / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--config", str(workdir / "emulator.conf"), "--fake"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    emu = Emulator(workdir, port, process)
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sushy-emulator did not start:\n{emu.log()}")
            pytest_twisted.blockon(deferLater(reactor, 0.1, lambda: None))
        yield emu
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def params(emu: Emulator, node: str = UUID1, **overrides: str) -> dict[str, str]:
    values = {"power_address": emu.address, "power_user": USER, "power_pass": PASSWORD,
              "node_id": node}
    values.update(overrides)
    return values


async def system(reactor: Any, emu: Emulator, uuid: str) -> dict[str, Any]:
    """The system as the emulator shows it (read with our own HTTP client)."""
    response = await request(reactor, "GET",
                             f"https://{emu.address}/redfish/v1/Systems/{uuid}",
                             auth=BasicAuth(USER, PASSWORD), verify_tls=False, timeout=10)
    assert response.status == 200, response.text
    return json.loads(response.body)  # type: ignore[no-any-return]


@pytest_twisted.ensureDeferred
async def test_on_sets_pxe_once_then_on(reactor: Any, emulator: Emulator) -> None:
    driver = RedfishPowerDriver(reactor)
    await driver.off(params(emulator))
    before = len(emulator.actions())
    await driver.on(params(emulator), system_id="node-rf")
    assert emulator.actions()[before:] == ["On"]
    found = await system(reactor, emulator, UUID1)
    assert found["PowerState"] == "On"
    assert found["Boot"]["BootSourceOverrideTarget"] == "Pxe"
    assert await driver.query(params(emulator)) == "on"


@pytest_twisted.ensureDeferred
async def test_on_when_on_force_restarts(reactor: Any, emulator: Emulator) -> None:
    driver = RedfishPowerDriver(reactor)
    await driver.on(params(emulator, UUID2))
    assert await driver.query(params(emulator, UUID2)) == "on"
    await driver.on(params(emulator, UUID2))
    assert emulator.actions()[-1] == "ForceRestart"
    assert await driver.query(params(emulator, UUID2)) == "on"


@pytest_twisted.ensureDeferred
async def test_off_forces_and_soft_shuts_down(reactor: Any, emulator: Emulator) -> None:
    driver = RedfishPowerDriver(reactor)
    await driver.on(params(emulator))
    await driver.off(params(emulator))
    assert emulator.actions()[-1] == "ForceOff"
    assert await driver.query(params(emulator)) == "off"
    count = len(emulator.actions())
    await driver.off(params(emulator))  # already off: nothing sent
    assert len(emulator.actions()) == count
    await driver.on(params(emulator))
    await driver.off({**params(emulator), "power_off_mode": "soft"})
    assert emulator.actions()[-1] == "GracefulShutdown"


@pytest_twisted.ensureDeferred
async def test_node_id_by_name_follows_the_redirect(reactor: Any, emulator: Emulator) -> None:
    """The emulator answers /Systems/node2 with a 307 to the UUID: same origin, followed."""
    driver = RedfishPowerDriver(reactor)
    await driver.on(params(emulator, UUID2))
    assert await driver.query(params(emulator, "node2")) == "on"


@pytest_twisted.ensureDeferred
async def test_no_node_id_with_two_systems(reactor: Any, emulator: Emulator) -> None:
    with pytest.raises(PowerSettingError, match="2 systems"):
        await RedfishPowerDriver(reactor).query(params(emulator, ""))


@pytest_twisted.ensureDeferred
async def test_unknown_system(reactor: Any, emulator: Emulator) -> None:
    with pytest.raises(PowerSettingError):
        await RedfishPowerDriver(reactor).query(params(emulator, "no-such-node"))


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, emulator: Emulator) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await RedfishPowerDriver(reactor).on(params(emulator, power_pass="Bad-Rf-Secret"))
    assert "Bad-Rf-Secret" not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_verify_tls_refuses_the_self_signed_certificate(
    reactor: Any, emulator: Emulator
) -> None:
    with pytest.raises(PowerConnError):
        await RedfishPowerDriver(reactor).query(params(emulator, power_verify_tls="yes"))


# -- session authentication (a small fake: the emulator has no SessionService) --------


@pytest.fixture
def sessions(reactor: Any) -> Iterator[FakeRedfishSessions]:
    service = FakeRedfishSessions(USER, PASSWORD)
    port, service.address = listen(reactor, service)  # type: ignore[attr-defined]
    yield service
    port.stopListening()


def session_params(service: FakeRedfishSessions, **overrides: str) -> dict[str, str]:
    values = {"power_address": service.address, "power_user": USER,  # type: ignore
              "power_pass": PASSWORD, "power_protocol": "http", "power_auth": "session"}
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_session_auth_only_system_and_etag(
    reactor: Any, sessions: FakeRedfishSessions
) -> None:
    driver = RedfishPowerDriver(reactor)
    await driver.on(session_params(sessions))
    assert sessions.resets == ["On"]
    assert sessions.boot == {"BootSourceOverrideTarget": "Pxe",
                             "BootSourceOverrideEnabled": "Once"}
    assert await driver.query(session_params(sessions)) == "on"
    assert sessions.sessions == {}  # every session deleted
    login = sessions.requests[0]
    assert login[:2] == ("POST", "/redfish/v1/SessionService/Sessions")
    assert login[3] == {"UserName": USER, "Password": PASSWORD}
    assert all(token for method, path, token, _ in sessions.requests
               if not (method == "POST" and path.endswith("/Sessions")))
    assert [m for m, p, _, _ in sessions.requests if p.endswith("/Sessions")] == ["POST"] * 2
    assert ("GET", SYSTEM) in [(m, p) for m, p, _, _ in sessions.requests]


@pytest_twisted.ensureDeferred
async def test_session_wrong_password(reactor: Any, sessions: FakeRedfishSessions) -> None:
    with pytest.raises(PowerAuthError):
        await RedfishPowerDriver(reactor).query(session_params(sessions, power_pass="x"))
