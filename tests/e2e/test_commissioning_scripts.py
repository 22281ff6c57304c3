"""commissioning-scripts/ and commissioning-scripts/{name} against a real region process."""

from __future__ import annotations

import base64
import secrets

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

NOT_ALLOWED = "User is not allowed access to this API."
#: A script that is not UTF-8 (a vendor binary, say), with NUL and CR LF in it.
BINARY = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) + b"\r\n\xff\xfe"


def unique(prefix: str = "50-test") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_user_or_skip(region: RegionProcess, admin: MAASClient) -> MAASClient:
    """A plain user's client; skips while POST users/ is not served yet."""
    resources = region.anonymous().get("describe/").json()["resources"]
    users = {r["name"]: r for r in resources}.get("UsersHandler") or {}
    actions = (users.get("auth") or {}).get("actions", [])
    if not any(a["method"] == "POST" and a["op"] is None for a in actions):
        pytest.skip("needs POST users/ (UsersHandler.create), not served yet")
    return region.new_user(admin)[1]


def create(admin: MAASClient, name: str, content: bytes) -> dict[str, str]:
    response = admin.post("commissioning-scripts/", name=name, files={"content": content})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_returns_the_script(admin: MAASClient) -> None:
    """Creating a script answers its name, base64 content and URI (no trailing slash)."""
    name = unique()
    assert create(admin, name, b"#!/bin/sh\necho hi\n") == {
        "name": name,
        "content": base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
        "resource_uri": f"/MAAS/api/1.0/commissioning-scripts/{name}",
    }


def test_binary_script_round_trips_byte_exact(admin: MAASClient) -> None:
    """A binary script is stored and served exactly as uploaded, as application/binary."""
    name = unique()
    assert base64.b64decode(create(admin, name, BINARY)["content"]) == BINARY
    response = admin.get(f"commissioning-scripts/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/binary"
    assert response.content == BINARY


def test_content_may_be_a_plain_text_part(admin: MAASClient) -> None:
    """Content sent as an ordinary form field (not a file part) is taken as its bytes."""
    name = unique()
    response = admin.post("commissioning-scripts/", name=name, content="#!/bin/sh\ntrue\n")
    assert response.status_code == 200, response.text
    assert admin.get(f"commissioning-scripts/{name}").content == b"#!/bin/sh\ntrue\n"


def test_list_is_sorted_names(admin: MAASClient) -> None:
    """The collection lists script names in the order nodes run them."""
    tag = secrets.token_hex(3)
    names = [f"30-{tag}", f"10-{tag}", f"20-{tag}"]
    for name in names:
        create(admin, name, b"x")
    response = admin.get("commissioning-scripts/")
    assert response.status_code == 200
    listed = response.json()
    assert listed == sorted(listed)
    assert [n for n in listed if n.endswith(tag)] == sorted(names)


def test_update_replaces_content(admin: MAASClient) -> None:
    """PUT replaces the content and answers the script's JSON."""
    name = unique()
    create(admin, name, b"old")
    response = admin.put(f"commissioning-scripts/{name}", files={"content": BINARY})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == name
    assert base64.b64decode(response.json()["content"]) == BINARY
    assert response.json()["resource_uri"] == f"/MAAS/api/1.0/commissioning-scripts/{name}"
    assert admin.get(f"commissioning-scripts/{name}").content == BINARY


def test_update_needs_content(admin: MAASClient) -> None:
    """PUT without content is a 400 naming the field, and changes nothing."""
    name = unique()
    create(admin, name, b"kept")
    response = admin.put(f"commissioning-scripts/{name}", form="urlencoded", other="x")
    assert response.status_code == 400
    assert list(response.json()) == ["content"]
    assert admin.get(f"commissioning-scripts/{name}").content == b"kept"


def test_delete(admin: MAASClient) -> None:
    """DELETE answers 204; the script is then gone from the item and the list."""
    name = unique()
    create(admin, name, b"x")
    response = admin.delete(f"commissioning-scripts/{name}")
    assert response.status_code == 204
    assert response.content == b""
    assert admin.get(f"commissioning-scripts/{name}").status_code == 404
    assert name not in admin.get("commissioning-scripts/").json()


def test_unknown_script_is_404(admin: MAASClient) -> None:
    """Reading, updating or deleting a script that does not exist is 404."""
    name = unique()
    assert admin.get(f"commissioning-scripts/{name}").status_code == 404
    assert admin.put(f"commissioning-scripts/{name}", files={"content": b"x"}).status_code == 404
    assert admin.delete(f"commissioning-scripts/{name}").status_code == 404
    assert admin.get("commissioning-scripts/a%00b").status_code == 404


def test_duplicate_name_is_a_form_error(admin: MAASClient) -> None:
    """A second script with the same name is a 400 {"name": [...]}; the first is kept."""
    name = unique()
    create(admin, name, b"first")
    response = admin.post("commissioning-scripts/", name=name, files={"content": b"second"})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert admin.get(f"commissioning-scripts/{name}").content == b"first"


@pytest.mark.parametrize("bad", ["with space", "tab\there", 'double"quote', "it's", "new\nline",
                                 "trailing-newline\n", "slash/name", "..", "", "ünicode"])
def test_invalid_names_are_refused(admin: MAASClient, bad: str) -> None:
    """Names with whitespace, quotes, apostrophes (or slashes, non-ASCII) are 400."""
    response = admin.post("commissioning-scripts/", name=bad, files={"content": b"x"})
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["name"]


@pytest.mark.parametrize("reserved", ["00-maas-01-lshw", "99-maas-03-extra", "00-maasive"])
def test_builtin_prefixes_are_reserved(admin: MAASClient, reserved: str) -> None:
    """Names starting with 00-maas or 99-maas belong to the built-in scripts."""
    response = admin.post("commissioning-scripts/", name=reserved, files={"content": b"x"})
    assert response.status_code == 400
    assert "reserved" in response.json()["name"][0]


def test_missing_parameters_are_form_errors(admin: MAASClient) -> None:
    """Creating needs both a name and content."""
    response = admin.post("commissioning-scripts/", files={"content": b"x"})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    response = admin.post("commissioning-scripts/", name=unique())
    assert response.status_code == 400
    assert list(response.json()) == ["content"]


def test_item_uri_has_no_trailing_slash(admin: MAASClient) -> None:
    """As in 1.8, commissioning-scripts/<name>/ is not a route."""
    name = unique()
    create(admin, name, b"x")
    assert admin.get(f"commissioning-scripts/{name}/").status_code == 404


def test_anonymous_is_forbidden(region: RegionProcess) -> None:
    """Both resources are admin-only: 403 even without credentials."""
    anonymous = region.anonymous()
    for response in (anonymous.get("commissioning-scripts/"),
                     anonymous.post("commissioning-scripts/", name=unique(),
                                    files={"content": b"x"}),
                     anonymous.get(f"commissioning-scripts/{unique()}")):
        assert response.status_code == 403
        assert response.text == NOT_ALLOWED


def test_non_admin_is_forbidden(region: RegionProcess, admin: MAASClient) -> None:
    """A plain user gets 403 on every commissioning-script operation."""
    user = new_user_or_skip(region, admin)
    name = unique()
    create(admin, name, b"x")
    for response in (user.get("commissioning-scripts/"),
                     user.post("commissioning-scripts/", name=unique(), files={"content": b"x"}),
                     user.get(f"commissioning-scripts/{name}"),
                     user.put(f"commissioning-scripts/{name}", files={"content": b"y"}),
                     user.delete(f"commissioning-scripts/{name}")):
        assert response.status_code == 403
        assert response.text == NOT_ALLOWED
    assert admin.get(f"commissioning-scripts/{name}").content == b"x"
