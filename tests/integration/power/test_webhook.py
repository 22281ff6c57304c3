"""The webhook driver calling a local HTTP power service (Twisted web) over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerActionError, PowerAuthError, PowerConnError, PowerSettingError
from power.webhook import WebhookPowerDriver
from tests.fakes.webbase import listen
from tests.fakes.webhook_target import FakeWebhookTarget
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD, TOKEN = "hook", "h00k-pass", "tok-3f9a2c"


@pytest.fixture(scope="module")
def service(reactor: Any) -> Iterator[FakeWebhookTarget]:
    target = FakeWebhookTarget(USER, PASSWORD, TOKEN)
    port, target.address = listen(reactor, target)  # type: ignore[attr-defined]
    yield target
    port.stopListening()


@pytest.fixture
def target(service: FakeWebhookTarget) -> FakeWebhookTarget:
    service.nodes.clear()
    service.requests.clear()
    service.status = None
    return service


def params(target: FakeWebhookTarget, **overrides: str) -> dict[str, str]:
    base = f"http://{target.address}/nodes/{{system_id}}/power"  # type: ignore[attr-defined]
    values = {
        "system_id": "node-4y3h8a",
        "power_on_uri": base + "/on",
        "power_off_uri": base + "/off",
        "power_query_uri": base,
        "power_on_body": '{"node": "{system_id}", "hostname": "{hostname}", "boot": "pxe"}',
        "hostname": 'web "01"',
        "power_query_json_pointer": "/power/state",
        "power_user": USER, "power_pass": PASSWORD,
        "power_headers": f"X-Api-Token: {TOKEN}\nX-Trace: maas",
    }
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_on_off_query_with_json_pointer(reactor: Any, target: FakeWebhookTarget) -> None:
    driver = WebhookPowerDriver(reactor)
    assert await driver.query(params(target)) == "off"
    await driver.on(params(target), system_id="node-4y3h8a")
    assert target.nodes == {"node-4y3h8a": True}
    assert await driver.query(params(target)) == "on"
    await driver.off(params(target))
    assert target.nodes == {"node-4y3h8a": False}
    on = target.requests[1]
    assert (on.method, on.path) == ("POST", "/nodes/node-4y3h8a/power/on")
    assert json.loads(on.body) == {"node": "node-4y3h8a", "hostname": 'web "01"', "boot": "pxe"}
    assert on.headers["content-type"] == "application/json"
    assert on.headers["x-trace"] == "maas" and (on.user, on.password) == (USER, PASSWORD)
    off = target.requests[3]
    assert (off.method, off.path, off.body) == ("POST", "/nodes/node-4y3h8a/power/off", b"")


@pytest_twisted.ensureDeferred
async def test_values_are_escaped_in_the_url(reactor: Any, target: FakeWebhookTarget) -> None:
    driver = WebhookPowerDriver(reactor)
    await driver.on(params(target, system_id="a b/../c?x=1", power_method="PUT",
                           power_on_body=""))
    assert target.requests[0].method == "PUT"
    assert target.requests[0].path == "/nodes/a%20b%2F..%2Fc%3Fx%3D1/power/on"


@pytest_twisted.ensureDeferred
async def test_query_text_with_regexes(reactor: Any, target: FakeWebhookTarget) -> None:
    driver = WebhookPowerDriver(reactor)
    values = params(target, power_query_json_pointer="",
                    power_query_uri=params(target)["power_query_uri"] + "?format=text",
                    power_query_on_regex="power is ON", power_query_off_regex="power is OFF")
    assert await driver.query(values) == "off"
    target.nodes["node-4y3h8a"] = True
    assert await driver.query(values) == "on"


@pytest_twisted.ensureDeferred
async def test_json_pointer_to_a_boolean(reactor: Any, target: FakeWebhookTarget) -> None:
    values = params(target, power_query_json_pointer="/power/on",
                    power_query_on_regex="^true$", power_query_off_regex="^false$")
    target.nodes["node-4y3h8a"] = True
    assert await WebhookPowerDriver(reactor).query(values) == "on"


@pytest_twisted.ensureDeferred
async def test_no_query_uri_is_unknown(reactor: Any, target: FakeWebhookTarget) -> None:
    assert await WebhookPowerDriver(reactor).query(params(target, power_query_uri="")) \
        == "unknown"
    assert target.requests == []


@pytest_twisted.ensureDeferred
async def test_wrong_token_is_an_auth_error(reactor: Any, target: FakeWebhookTarget) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await WebhookPowerDriver(reactor).on(params(target, power_headers="X-Api-Token: nope-7"))
    assert "nope-7" not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_statuses(reactor: Any, target: FakeWebhookTarget) -> None:
    driver = WebhookPowerDriver(reactor)
    target.status = 503
    with pytest.raises(PowerActionError):
        await driver.on(params(target))
    target.status = 404
    with pytest.raises(PowerSettingError):
        await driver.on(params(target))


@pytest_twisted.ensureDeferred
async def test_ambiguous_answer(reactor: Any, target: FakeWebhookTarget) -> None:
    values = params(target, power_query_json_pointer="", power_query_on_regex="state",
                    power_query_off_regex="node")
    with pytest.raises(PowerActionError, match="both"):
        await WebhookPowerDriver(reactor).query(values)


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await WebhookPowerDriver(reactor).on({
            "power_on_uri": f"http://127.0.0.1:{free_udp_port()}/on"})


@pytest_twisted.ensureDeferred
async def test_echoed_header_value_is_scrubbed(reactor: Any, target: FakeWebhookTarget) -> None:
    """An answer that echoes the API token does not carry it into the error."""
    values = params(target, power_query_json_pointer="", power_query_on_regex="nomatch",
                    power_query_off_regex="nomatch-either",
                    power_query_uri=f"http://{target.address}/echo")  # type: ignore[attr-defined]
    with pytest.raises(PowerActionError, match="neither") as caught:
        await WebhookPowerDriver(reactor).query(values)
    assert TOKEN not in str(caught.value)
