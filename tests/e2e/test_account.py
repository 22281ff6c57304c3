"""account/: the logged-in user's API keys, over HTTP against a real region."""

from __future__ import annotations

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def new_key(region: RegionProcess, client: MAASClient) -> tuple[dict[str, str], MAASClient]:
    response = client.post("account/", "create_authorisation_token")
    assert response.status_code == 200, response.text
    token = response.json()
    key = f"{token['consumer_key']}:{token['token_key']}:{token['token_secret']}"
    return token, MAASClient(region.url, key)


def test_create_token_returns_a_working_key(region: RegionProcess, admin: MAASClient) -> None:
    """create_authorisation_token answers the three parts of a new key, which works at once."""
    _, user = region.new_user(admin)
    response = user.post("account/", "create_authorisation_token")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    token = response.json()
    assert sorted(token) == ["consumer_key", "token_key", "token_secret"]
    assert (len(token["consumer_key"]), len(token["token_key"]),
            len(token["token_secret"])) == (18, 18, 32)
    key = f"{token['consumer_key']}:{token['token_key']}:{token['token_secret']}"
    assert MAASClient(region.url, key).get("users/").status_code == 200


def test_each_call_makes_a_different_key(region: RegionProcess, admin: MAASClient) -> None:
    """Two calls give two distinct tokens."""
    _, user = region.new_user(admin)
    first, _ = new_key(region, user)
    second, _ = new_key(region, user)
    assert first["token_key"] != second["token_key"]
    assert first["consumer_key"] != second["consumer_key"]


def test_new_key_belongs_to_the_caller(region: RegionProcess, admin: MAASClient) -> None:
    """A key a plain user makes is that user's: it cannot do admin things."""
    _, user = region.new_user(admin)
    _, other_client = new_key(region, user)
    refused = other_client.post("users/", username="x", email="x@example.com",
                                password="p", is_superuser="0")
    assert refused.status_code == 403


def test_delete_token_revokes_the_key(region: RegionProcess, admin: MAASClient) -> None:
    """delete_authorisation_token answers 204 and the key stops working (401)."""
    _, user = region.new_user(admin)
    token, second = new_key(region, user)
    assert second.get("users/").status_code == 200
    deleted = user.post("account/", "delete_authorisation_token", token_key=token["token_key"])
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert second.get("users/").status_code == 401
    assert user.get("users/").status_code == 200  # the caller's other key still works


def test_delete_unknown_token_is_404(region: RegionProcess, admin: MAASClient) -> None:
    """Deleting a token key that does not exist answers 404."""
    _, user = region.new_user(admin)
    response = user.post("account/", "delete_authorisation_token", token_key="nosuchtoken")
    assert response.status_code == 404


def test_cannot_delete_another_users_token(region: RegionProcess, admin: MAASClient) -> None:
    """Another user's token answers 404 (as if unknown) and keeps working."""
    _, owner = region.new_user(admin)
    _, stranger = region.new_user(admin)
    token, owners_key = new_key(region, owner)
    response = stranger.post("account/", "delete_authorisation_token",
                             token_key=token["token_key"])
    assert response.status_code == 404
    assert owners_key.get("users/").status_code == 200


def test_delete_without_token_key_is_400(region: RegionProcess, admin: MAASClient) -> None:
    """A missing token_key is a plain-text 400, as 1.8's get_mandatory_param says."""
    _, user = region.new_user(admin)
    response = user.post("account/", "delete_authorisation_token")
    assert response.status_code == 400
    assert response.text == "No provided token_key!"


def test_urlencoded_delete_works(region: RegionProcess, admin: MAASClient) -> None:
    """gomaasapi's urlencoded form is understood as well as multipart."""
    _, user = region.new_user(admin)
    token, _ = new_key(region, user)
    response = user.post("account/", "delete_authorisation_token", form="urlencoded",
                         token_key=token["token_key"])
    assert response.status_code == 204


def test_anonymous_is_401(region: RegionProcess) -> None:
    """account/ needs credentials."""
    response = region.anonymous().post("account/", "create_authorisation_token")
    assert response.status_code == 401


def test_unknown_op_is_unrecognised_signature(admin: MAASClient) -> None:
    """An op account/ does not have answers 1.8's 400."""
    response = admin.post("account/", "frobnicate")
    assert response.status_code == 400
    assert response.text == "Unrecognised signature: method=POST op=frobnicate"


def test_nul_in_token_key_is_400(admin: MAASClient) -> None:
    """A token key with a NUL is refused at the edge: 400, not a server error."""
    response = admin.post("account/", "delete_authorisation_token", token_key="a\x00b")
    assert response.status_code == 400
