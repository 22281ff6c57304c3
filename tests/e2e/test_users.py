"""users/ and users/{username}/ over HTTP against a real region."""

from __future__ import annotations

import secrets

import psycopg2
import pytest

from region.domain.passwords import verify_password
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

SYSTEM_USERS = ("maas-init-node", "maas-nodegroup-worker")


def unique(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def form(username: str, **overrides: str) -> dict[str, str]:
    fields = {"username": username, "email": f"{username}@example.com",
              "password": "s3cret", "is_superuser": "0"}
    fields.update(overrides)
    return fields


def query(region: RegionProcess, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read the region's database directly, to check what the API cannot show."""
    connection = psycopg2.connect(region.database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_create_user_returns_1_8_shape(admin: MAASClient) -> None:
    """POST users/ answers 200 with username, email and is_superuser."""
    name = unique()
    response = admin.post("users/", **form(name))
    assert response.status_code == 200, response.text
    assert response.json() == {"username": name, "email": f"{name}@example.com",
                               "is_superuser": False}


def test_new_user_is_listed_and_system_users_are_not(region: RegionProcess,
                                                      admin: MAASClient) -> None:
    """GET users/ lists people, sorted by name, never the built-in accounts."""
    name = unique()
    assert admin.post("users/", **form(name)).status_code == 200
    _, user = region.new_user(admin)
    listing = user.get("users/")
    assert listing.status_code == 200
    names = [entry["username"] for entry in listing.json()]
    assert name in names and "admin" in names
    assert not set(SYSTEM_USERS) & set(names)
    assert names == sorted(names)
    entry = next(entry for entry in listing.json() if entry["username"] == name)
    assert entry == {"username": name, "email": f"{name}@example.com", "is_superuser": False}


def test_new_user_gets_exactly_one_api_key(region: RegionProcess, admin: MAASClient) -> None:
    """Creating a user makes its first API token, as 1.8 does."""
    name = unique()
    assert admin.post("users/", **form(name)).status_code == 200
    rows = query(region, "SELECT count(*) FROM tokens t JOIN users u ON u.id = t.user_id "
                         "WHERE u.username = %s", name)
    assert rows == [(1,)]


def test_password_is_stored_hashed(region: RegionProcess, admin: MAASClient) -> None:
    """The password is kept only as a scrypt hash that verifies."""
    name = unique()
    assert admin.post("users/", **form(name, password="correct horse")).status_code == 200
    [(stored,)] = query(region, "SELECT password FROM users WHERE username = %s", name)
    assert isinstance(stored, str)
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)


def test_superuser_can_be_created(region: RegionProcess, admin: MAASClient) -> None:
    """is_superuser=1 makes an administrator, who may create users in turn."""
    name, new_admin = region.new_user(admin, superuser=True)
    assert admin.get(f"users/{name}/").json()["is_superuser"] is True
    assert new_admin.post("users/", **form(unique())).status_code == 200


@pytest.mark.parametrize("value", ["true", "yes", "2", "", "01"])
def test_is_superuser_must_be_0_or_1(admin: MAASClient, value: str) -> None:
    """Anything but '0' or '1' for is_superuser is 1.8's 400."""
    response = admin.post("users/", **form(unique(), is_superuser=value))
    assert response.status_code == 400
    assert response.text == "Not a valid Boolean value (0 or 1)"


@pytest.mark.parametrize("missing", ["username", "email", "password", "is_superuser"])
def test_missing_mandatory_parameter_is_400(admin: MAASClient, missing: str) -> None:
    """Each of the four parameters is mandatory; the 400 names the missing one."""
    fields = form(unique())
    del fields[missing]
    response = admin.post("users/", **fields)
    assert response.status_code == 400
    assert response.text == f"No provided {missing}!"


def test_duplicate_username_is_a_form_error(admin: MAASClient) -> None:
    """A taken username is a 400 JSON error on the username field."""
    name = unique()
    assert admin.post("users/", **form(name)).status_code == 200
    again = admin.post("users/", form="urlencoded", **form(name, email="other@example.com"))
    assert again.status_code == 400
    assert again.headers["Content-Type"].startswith("application/json")
    assert again.json() == {"username": ["User with this Username already exists."]}


def test_invalid_username_and_email_are_form_errors(admin: MAASClient) -> None:
    """Usernames are letters, digits and @.+-_; emails need an @; both are reported at once."""
    response = admin.post("users/", **form("has spaces", email="nope"))
    assert response.status_code == 400
    assert sorted(response.json()) == ["email", "username"]


def test_empty_password_is_refused(admin: MAASClient) -> None:
    """An empty password is a form error, not an account anyone can log into."""
    response = admin.post("users/", **form(unique(), password=""))
    assert response.status_code == 400
    assert list(response.json()) == ["password"]


def test_non_admin_cannot_create_users(region: RegionProcess, admin: MAASClient) -> None:
    """POST users/ is reserved for admins (403), and nothing is created."""
    _, user = region.new_user(admin)
    name = unique()
    response = user.post("users/", **form(name))
    assert response.status_code == 403
    assert response.text == "This method is reserved for admin users."
    assert admin.get(f"users/{name}/").status_code == 404


def test_anonymous_is_401(region: RegionProcess) -> None:
    """users/ needs credentials."""
    assert region.anonymous().get("users/").status_code == 401


def test_read_one_user(region: RegionProcess, admin: MAASClient) -> None:
    """An admin reads any user by name."""
    name, _ = region.new_user(admin)
    response = admin.get(f"users/{name}/")
    assert response.status_code == 200
    assert response.json() == {"username": name, "email": f"{name}@example.com",
                               "is_superuser": False}


def test_read_unknown_or_system_user_is_404(admin: MAASClient) -> None:
    """Unknown users and the built-in accounts are not found."""
    assert admin.get(f"users/{unique()}/").status_code == 404
    for name in SYSTEM_USERS:
        assert admin.get(f"users/{name}/").status_code == 404


def test_non_admin_cannot_read_or_delete_a_user(region: RegionProcess,
                                                admin: MAASClient) -> None:
    """users/{username}/ is for admins: 403 for others, even on themselves."""
    name, user = region.new_user(admin)
    assert user.get(f"users/{name}/").status_code == 403
    assert user.get("users/admin/").status_code == 403
    assert user.delete("users/admin/").status_code == 403
    assert admin.get("users/admin/").status_code == 200


def test_delete_user(region: RegionProcess, admin: MAASClient) -> None:
    """DELETE answers 204; the user is gone and their API key stops working."""
    name, user = region.new_user(admin)
    assert user.get("users/").status_code == 200
    response = admin.delete(f"users/{name}/")
    assert response.status_code == 204
    assert response.content == b""
    assert admin.get(f"users/{name}/").status_code == 404
    assert name not in [entry["username"] for entry in admin.get("users/").json()]
    assert user.get("users/").status_code == 401
    assert admin.delete(f"users/{name}/").status_code == 404


def test_delete_unknown_or_system_user_is_404(region: RegionProcess, admin: MAASClient) -> None:
    """Unknown users and the built-in accounts cannot be deleted (404)."""
    assert admin.delete(f"users/{unique()}/").status_code == 404
    for name in SYSTEM_USERS:
        assert admin.delete(f"users/{name}/").status_code == 404
    assert query(region, "SELECT count(*) FROM users WHERE is_system") == [(2,)]


def test_admin_cannot_delete_themselves(region: RegionProcess, admin: MAASClient) -> None:
    """An administrator deleting their own account gets 1.8's plain-text 400."""
    name, other_admin = region.new_user(admin, superuser=True)
    response = other_admin.delete(f"users/{name}/")
    assert response.status_code == 400
    assert response.text == "An administrator cannot self-delete."
    assert admin.get(f"users/{name}/").status_code == 200


def test_admin_can_delete_another_admin(region: RegionProcess, admin: MAASClient) -> None:
    """Deleting a different administrator is allowed."""
    name, _ = region.new_user(admin, superuser=True)
    assert admin.delete(f"users/{name}/").status_code == 204


def test_nul_characters_are_refused_not_crashed(admin: MAASClient) -> None:
    """A NUL in an email or a username path is a 4xx (PostgreSQL text cannot hold NUL)."""
    response = admin.post("users/", **form(unique(), email="a\x00b@example.com"))
    assert response.status_code == 400
    assert "NUL" in response.text
    assert admin.get("users/bad%00name/").status_code == 404
    assert admin.delete("users/bad%00name/").status_code == 404
