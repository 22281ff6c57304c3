"""MAAS 1.8's HTTP conventions, checked against a real region process."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def test_both_prefixes_serve_the_api(region: RegionProcess) -> None:
    """/MAAS/api/1.0/ and /api/1.0/ reach the same handlers."""
    for prefix in ("/MAAS/api/1.0/", "/api/1.0/"):
        response = requests.get(region.url + prefix + "version/", timeout=10)
        assert response.status_code == 200
        assert response.json()["capabilities"][0] == "networks-management"


def test_every_api_response_carries_the_api_hash(region: RegionProcess, admin: MAASClient) -> None:
    """X-MAAS-API-Hash is on successes and errors alike, and equals describe's hash."""
    describe = region.anonymous().get("describe/")
    expected = describe.json()["hash"]
    assert len(expected) == 40
    for response in (describe, admin.get("zones/"), admin.get("nope/"), admin.post("zones/")):
        assert response.headers["X-MAAS-API-Hash"] == expected


def test_unknown_endpoint_is_404_text(region: RegionProcess) -> None:
    response = region.anonymous().get("no-such-thing/")
    assert response.status_code == 404
    assert response.text == "Unknown API endpoint: /MAAS/api/1.0/no-such-thing/."
    assert response.headers["Content-Type"].startswith("text/plain")


def test_unknown_op_is_unrecognised_signature(admin: MAASClient) -> None:
    response = admin.post("zones/", op="frobnicate")
    assert response.status_code == 400
    assert response.text == "Unrecognised signature: method=POST op=frobnicate"


def test_missing_op_where_only_ops_exist(admin: MAASClient) -> None:
    """Without op, a resource that has only named operations says op=None."""
    response = admin.get("zones/", op="list")
    assert response.status_code == 400
    assert response.text == "Unrecognised signature: method=GET op=list"


def test_method_no_operation_uses_is_405(admin: MAASClient) -> None:
    response = admin.session.patch(admin.url("zones/"), auth=admin.auth, timeout=10)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_describe_is_anonymous_and_complete(region: RegionProcess) -> None:
    """describe/ lists every resource with absolute URIs built from the request."""
    document = region.anonymous().get("describe/").json()
    names = {resource["name"] for resource in document["resources"]}
    assert {"ZonesHandler", "ZoneHandler", "VersionHandler"} <= names
    zones = next(r for r in document["resources"] if r["name"] == "ZonesHandler")
    assert zones["auth"]["uri"] == region.url + "/MAAS/api/1.0/zones/"
    assert {a["name"] for a in zones["auth"]["actions"]} == {"read", "create"}


def test_query_string_signature_is_accepted(region: RegionProcess) -> None:
    """Clients that sign in the query string instead of the header are served."""
    client = MAASClient(region.url, region.api_key("admin"), signature_type="QUERY")
    assert client.get("zones/").status_code == 200


def test_urlencoded_and_json_bodies_are_accepted(admin: MAASClient) -> None:
    """gomaasapi posts urlencoded bodies; JSON bodies work too."""
    name = f"z-{uuid.uuid4().hex[:8]}"
    assert admin.post("zones/", form="urlencoded", name=name).status_code == 200
    other = f"z-{uuid.uuid4().hex[:8]}"
    assert admin.post("zones/", form="json", name=other).json()["name"] == other


def test_bad_credentials_are_401_with_reason(region: RegionProcess) -> None:
    consumer, token, _ = region.api_key("admin").split(":")
    client = MAASClient(region.url, f"{consumer}:{token}:wrong-secret")
    response = client.get("zones/")
    assert response.status_code == 401
    assert response.text.startswith("Authorization Error:")
    assert response.headers["WWW-Authenticate"].startswith("OAuth")


def test_unknown_token_is_401(region: RegionProcess) -> None:
    response = MAASClient(region.url, "a:b:c").get("zones/")
    assert response.status_code == 401
    assert "Invalid access token" in response.text


def test_replayed_request_is_refused(region: RegionProcess) -> None:
    """The same signed request sent twice is refused the second time (nonces in PostgreSQL)."""
    consumer, token, secret = region.api_key("admin").split(":")
    nonce = uuid.uuid4().hex
    header = (f'OAuth realm="", oauth_nonce="{nonce}", oauth_timestamp="{int(time.time())}", '
              f'oauth_consumer_key="{consumer}", oauth_signature_method="PLAINTEXT", '
              f'oauth_version="1.0", oauth_token="{token}", oauth_signature="%26{secret}"')
    url = region.url + "/MAAS/api/1.0/zones/"
    first = requests.get(url, headers={"Authorization": header}, timeout=10)
    second = requests.get(url, headers={"Authorization": header}, timeout=10)
    assert first.status_code == 200
    assert second.status_code == 401
    assert "Nonce already used" in second.text


def test_stale_timestamp_is_refused(region: RegionProcess) -> None:
    consumer, token, secret = region.api_key("admin").split(":")
    header = (f'OAuth oauth_nonce="{uuid.uuid4().hex}", oauth_timestamp="{int(time.time()) - 400}", '
              f'oauth_consumer_key="{consumer}", oauth_signature_method="PLAINTEXT", '
              f'oauth_token="{token}", oauth_signature="%26{secret}"')
    response = requests.get(region.url + "/MAAS/api/1.0/zones/",
                            headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401
    assert "Expired timestamp" in response.text


def test_malformed_body_is_400_not_500(admin: MAASClient) -> None:
    response = admin.session.post(
        admin.url("zones/"), data=b"{not json", auth=admin.auth, timeout=10,
        headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_unknown_paths_outside_the_api_are_404(region: RegionProcess) -> None:
    assert requests.get(region.url + "/elsewhere", timeout=10).status_code == 404


def test_query_string_signatures_stay_out_of_the_log(region: RegionProcess) -> None:
    """A client signing in the query string leaves no token secret in the access log."""
    key = region.api_key("admin")
    client = MAASClient(region.url, key, signature_type="QUERY")
    assert client.get("zones/").status_code == 200
    secret = key.split(":")[2]
    log = region.log_text()
    assert "oauth_signature=<redacted>" in log
    assert secret not in log
