"""The mscm driver over real SSH (Twisted Conch client) to a fake chassis manager (Conch server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerAuthError, PowerConnError, PowerSettingError
from power.mscm import MSCMPowerDriver, list_machines
from power.ssh import HostKeys
from tests.fakes.mscm import FakeMSCM, Node
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD = "Administrator", "ms'cm \"pw\""


def nodes() -> list[Node]:
    return [
        Node("c1n1", "ProLiant m300 Server Cartridge", ["a0:1d:48:b5:04:34", "a0:1d:48:b5:04:35"]),
        Node("c2n1", "ProLiant m400 Server Cartridge", ["a0:1d:48:b5:05:34"]),
        Node("c3n2", "ProLiant m800 Server Cartridge", ["A0:1D:48:B5:06:34"]),
    ]


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeMSCM]:
    mscm = FakeMSCM(USER, PASSWORD, nodes())
    port = reactor.listenTCP(0, mscm.factory(), interface="127.0.0.1")
    mscm.address = f"127.0.0.1:{port.getHost().port}"  # type: ignore[attr-defined]
    yield mscm
    port.stopListening()


@pytest.fixture
def mscm(device: FakeMSCM) -> FakeMSCM:
    device.commands.clear()
    for node, fresh in zip(device.nodes.values(), nodes(), strict=True):
        node.power, node.boot_once = fresh.power, fresh.boot_once
    return device


def params(mscm: FakeMSCM, node_id: str = "c1n1", **overrides: str) -> dict[str, str]:
    values = {"power_address": mscm.address, "power_user": USER,  # type: ignore[attr-defined]
              "power_pass": PASSWORD, "node_id": node_id}
    values.update(overrides)
    return values


def driver(reactor: Any, **kwargs: Any) -> MSCMPowerDriver:
    return MSCMPowerDriver(reactor, host_keys=kwargs.pop("host_keys", HostKeys()), **kwargs)


@pytest_twisted.ensureDeferred
async def test_query(reactor: Any, mscm: FakeMSCM) -> None:
    assert await driver(reactor).query(params(mscm)) == "off"
    mscm.node("c1n1").power = "On"
    assert await driver(reactor).query(params(mscm)) == "on"
    assert mscm.commands == ["show node power c1n1"] * 2


@pytest_twisted.ensureDeferred
async def test_on_from_off(reactor: Any, mscm: FakeMSCM) -> None:
    await driver(reactor).on(params(mscm, "c3n2"), system_id="node-mscm")
    assert mscm.commands == ["show node power c3n2", "set node bootonce pxe c3n2",
                             "set node power on c3n2"]
    assert mscm.node("c3n2").power == "On" and mscm.node("c3n2").boot_once == "pxe"


@pytest_twisted.ensureDeferred
async def test_on_when_on_powers_off_first(reactor: Any, mscm: FakeMSCM) -> None:
    mscm.node("c1n1").power = "On"
    await driver(reactor).on(params(mscm))
    assert mscm.commands == ["show node power c1n1", "set node power off force c1n1",
                             "set node bootonce pxe c1n1", "set node power on c1n1"]


@pytest_twisted.ensureDeferred
async def test_off(reactor: Any, mscm: FakeMSCM) -> None:
    mscm.node("c2n1").power = "On"
    await driver(reactor).off(params(mscm, "c2n1"))
    assert mscm.commands == ["set node power off force c2n1"]
    assert mscm.node("c2n1").power == "Off"


@pytest_twisted.ensureDeferred
async def test_bad_node_id_never_sent(reactor: Any, mscm: FakeMSCM) -> None:
    with pytest.raises(PowerSettingError, match="cXnY"):
        await driver(reactor).off(params(mscm, "c1n1; set node power off force c2n1"))
    assert mscm.commands == []


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, mscm: FakeMSCM) -> None:
    with pytest.raises(PowerAuthError, match="refused the password") as caught:
        await driver(reactor).query(params(mscm, power_pass="Bad-Pass-3"))
    assert "Bad-Pass-3" not in str(caught.value)
    assert mscm.commands == []


@pytest_twisted.ensureDeferred
async def test_host_key_accept_new_then_pinned(reactor: Any, mscm: FakeMSCM,
                                               tmp_path: Path) -> None:
    """The first key is remembered (in the file); a different key later is refused."""
    known = tmp_path / "known_hosts"
    await driver(reactor, host_keys=HostKeys(known)).query(params(mscm))
    line = known.read_text().split()
    assert line[0] == mscm.address and line[1] == "ssh-ed25519"  # type: ignore[attr-defined]
    await driver(reactor, host_keys=HostKeys(known)).query(params(mscm))  # same key: fine
    known.write_text(known.read_text().replace(line[2], line[2][:-8] + "AAAAAAA="))
    with pytest.raises(PowerAuthError, match="host key"):
        await driver(reactor, host_keys=HostKeys(known)).query(params(mscm))


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await driver(reactor).query({"power_address": f"127.0.0.1:{free_udp_port()}",
                                     "power_user": "u", "power_pass": "p", "node_id": "c1n1"})


@pytest_twisted.ensureDeferred
async def test_list_machines(reactor: Any, mscm: FakeMSCM) -> None:
    found = {n.node_id: n for n in await list_machines(
        reactor, mscm.address, USER, PASSWORD, host_keys=HostKeys())}  # type: ignore[attr-defined]
    assert list(found) == ["c1n1", "c2n1", "c3n2"]
    assert found["c1n1"].macs == ("a0:1d:48:b5:04:34", "a0:1d:48:b5:04:35")
    assert found["c3n2"].macs == ("a0:1d:48:b5:06:34",)
    assert found["c1n1"].architecture == "amd64/generic"
    assert found["c2n1"].architecture == "arm64/xgene-uboot"
    assert found["c3n2"].architecture == "armhf/keystone"
    assert mscm.commands[:2] == ["show node list", "show node macaddr all"]
