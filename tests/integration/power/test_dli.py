"""The dli driver against a fake Digital Loggers switch (Twisted web) over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.dli import DLIPowerDriver
from power.errors import PowerActionError, PowerAuthError, PowerConnError
from tests.fakes.dli import FakeDLI
from tests.fakes.webbase import listen
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD = "admin", "s3cr:et pa$$"


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeDLI]:
    dli = FakeDLI(USER, PASSWORD)
    port, dli.address = listen(reactor, dli)  # type: ignore[attr-defined]
    yield dli
    port.stopListening()


@pytest.fixture
def dli(device: FakeDLI) -> FakeDLI:
    device.outlets = [False] * 8
    device.requests.clear()
    device.page = None
    return device


def params(dli: FakeDLI, outlet: int = 3, **overrides: str) -> dict[str, str]:
    values = {"power_address": dli.address, "system_id": str(outlet),  # type: ignore[attr-defined]
              "power_user": USER, "power_pass": PASSWORD}
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_on_and_off(reactor: Any, dli: FakeDLI) -> None:
    driver = DLIPowerDriver(reactor)
    await driver.on(params(dli, 3), system_id="node-dli")
    assert dli.outlets == [False, False, True] + [False] * 5
    await driver.off(params(dli, 3))
    assert dli.outlets == [False] * 8
    assert [(r.path, r.args, r.user, r.password) for r in dli.requests] == [
        ("/outlet", {"3": ["ON"]}, USER, PASSWORD),
        ("/outlet", {"3": ["OFF"]}, USER, PASSWORD),
    ]


@pytest_twisted.ensureDeferred
async def test_query_tests_the_outlets_bit(reactor: Any, dli: FakeDLI) -> None:
    driver = DLIPowerDriver(reactor)
    dli.outlets[7] = True  # state=80
    assert await driver.query(params(dli, 8)) == "on"
    assert await driver.query(params(dli, 1)) == "off"
    dli.outlets[0] = True  # state=81
    assert await driver.query(params(dli, 1)) == "on"
    assert [r.path for r in dli.requests] == ["/index.htm"] * 3


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, dli: FakeDLI) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await DLIPowerDriver(reactor).on(params(dli, power_pass="Wrong-Secret-7"))
    assert "Wrong-Secret-7" not in str(caught.value)
    assert dli.outlets == [False] * 8


@pytest_twisted.ensureDeferred
async def test_page_without_state(reactor: Any, dli: FakeDLI) -> None:
    dli.page = b"<html>Please log in</html>"
    with pytest.raises(PowerActionError, match="state=XX"):
        await DLIPowerDriver(reactor).query(params(dli))


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await DLIPowerDriver(reactor).query({
            "power_address": f"127.0.0.1:{free_udp_port()}", "system_id": "1"})
