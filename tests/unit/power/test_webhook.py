"""webhook: templates and their escaping, JSON pointers, headers, settings, a silent target."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from power.errors import PowerActionError, PowerConnError, PowerSettingError
from power.webhook import WebhookPowerDriver, _json_escape, json_pointer, parse_headers, render

PARAMS = {"system_id": "abc/1 2", "hostname": 'n"1', "power_pass": "pw"}


def test_render_escapes_for_urls_and_json() -> None:
    url = render("http://h/{system_id}?n={hostname}", PARAMS, lambda v: v.replace("/", "%2F")
                 .replace(" ", "%20").replace('"', "%22"), "uri")
    assert url == "http://h/abc%2F1%202?n=n%221"
    body = render('{"id": "{system_id}", "name": "{hostname}", "x": {"y": 1}}', PARAMS,
                  _json_escape, "body")
    assert json.loads(body) == {"id": "abc/1 2", "name": 'n"1', "x": {"y": 1}}


@pytest.mark.parametrize(("template", "words"), [
    ("{power_pass}", "secret"), ("{power_headers}", "secret"), ("{mac_address}", "does not have"),
])
def test_render_refuses(template: str, words: str) -> None:
    with pytest.raises(PowerSettingError, match=words):
        render(template, PARAMS, str, "uri")


def test_render_leaves_other_braces() -> None:
    assert render('{0} {a.b} {system_id!r} {"k": {"v": 1}}', PARAMS, str, "b") == \
        '{0} {a.b} {system_id!r} {"k": {"v": 1}}'


@pytest.mark.parametrize(("pointer", "value"), [
    ("", {"a/b": [1, {"~k": True}]}), ("/a~1b", [1, {"~k": True}]), ("/a~1b/0", 1),
    ("/a~1b/1/~0k", True),
])
def test_json_pointer(pointer: str, value: Any) -> None:
    assert json_pointer({"a/b": [1, {"~k": True}]}, pointer) == value


def test_json_pointer_misses() -> None:
    with pytest.raises(PowerActionError):
        json_pointer({"a": [1]}, "/a/5")
    with pytest.raises(PowerSettingError):
        json_pointer({"a": 1}, "a")


def test_parse_headers() -> None:
    assert parse_headers("X-Token: a:b\n\nAccept:  text/plain ") == {
        "X-Token": "a:b", "Accept": "text/plain"}
    for bad in ("no colon", "Bad Name: x", ": x"):
        with pytest.raises(PowerSettingError):
            parse_headers(bad)


def call(reactor: Any, action: str, params: dict[str, str], **kwargs: Any) -> list[Any]:
    results: list[Any] = []
    driver = WebhookPowerDriver(reactor, **kwargs)
    Deferred.fromCoroutine(getattr(driver, action)(params)).addBoth(results.append)
    return results


@pytest.mark.parametrize("params", [
    {}, {"power_on_uri": "ftp://h/x"}, {"power_on_uri": "/relative"},
    {"power_on_uri": "http://h/{nothing}"}, {"power_on_uri": "http://h/", "power_method": "GO"},
    {"power_on_uri": "http://h/", "power_headers": "junk"},
])
def test_bad_settings(params: dict[str, str]) -> None:
    results = call(MemoryReactorClock(), "on", params)
    assert isinstance(results[0].value, PowerSettingError)


def test_default_regexes() -> None:
    driver = WebhookPowerDriver(None)
    assert driver.get_setting({}, "power_query_off_regex") == r"(?i)\boff\b"
    assert driver.get_setting({}, "power_query_on_regex") == r"(?i)\bon\b"


def test_deadline_on_a_silent_target() -> None:
    reactor = MemoryReactorClock()
    results = call(reactor, "off", {"power_off_uri": "http://127.0.0.13:9/off/{system_id}",
                                    "system_id": "x"}, timeout=15)
    assert reactor.tcpClients[0][1] == 9
    reactor.advance(16)
    assert isinstance(results[0].value, PowerConnError)
