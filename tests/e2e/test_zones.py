"""Zones over HTTP against a real region process."""

from __future__ import annotations

import secrets

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def unique(prefix: str = "zone") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_default_zone_is_listed(admin: MAASClient) -> None:
    """The default zone exists from the first migration."""
    response = admin.get("zones/")
    assert response.status_code == 200
    names = [zone["name"] for zone in response.json()]
    assert "default" in names


def test_create_read_update_delete(admin: MAASClient) -> None:
    """A zone goes through its whole life with the 1.8 shapes and statuses."""
    name = unique()
    created = admin.post("zones/", name=name, description="rack one")
    assert created.status_code == 200, created.text
    assert created.json() == {"name": name, "description": "rack one",
                              "resource_uri": f"/MAAS/api/1.0/zones/{name}/"}

    assert admin.get(f"zones/{name}/").json()["description"] == "rack one"

    renamed = unique()
    updated = admin.put(f"zones/{name}/", name=renamed)
    assert updated.status_code == 200
    assert updated.json()["name"] == renamed
    assert updated.json()["description"] == "rack one"  # absent fields are kept
    assert admin.get(f"zones/{name}/").status_code == 404

    deleted = admin.delete(f"zones/{renamed}/")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert admin.get(f"zones/{renamed}/").status_code == 404


def test_duplicate_name_is_a_form_error(admin: MAASClient) -> None:
    """A second zone with the same name gets 400 with a JSON field error."""
    name = unique()
    assert admin.post("zones/", name=name).status_code == 200
    again = admin.post("zones/", name=name, form="urlencoded")
    assert again.status_code == 400
    assert again.headers["Content-Type"].startswith("application/json")
    assert list(again.json()) == ["name"]


def test_missing_name_is_a_form_error(admin: MAASClient) -> None:
    """Creating a zone without a name names the missing field."""
    response = admin.post("zones/", description="no name")
    assert response.status_code == 400
    assert response.json() == {"name": ["This field is required."]}


def test_invalid_name_is_refused(admin: MAASClient) -> None:
    response = admin.post("zones/", name="no spaces allowed")
    assert response.status_code == 400
    assert "name" in response.json()


def test_default_zone_cannot_be_deleted_or_renamed(admin: MAASClient) -> None:
    """The default zone always exists."""
    assert admin.delete("zones/default/").status_code == 400
    assert admin.put("zones/default/", name=unique()).status_code == 400
    assert admin.get("zones/default/").status_code == 200


def test_non_admin_can_read_but_not_write(region: RegionProcess, admin: MAASClient) -> None:
    """Users see zones; creating, changing and deleting them is for admins (403)."""
    _, user = region.new_user(admin)
    assert user.get("zones/").status_code == 200
    name = unique()
    refused = user.post("zones/", name=name)
    assert refused.status_code == 403
    assert refused.text == "This method is reserved for admin users."
    assert admin.post("zones/", name=name).status_code == 200
    assert user.put(f"zones/{name}/", description="x").status_code == 403
    assert user.delete(f"zones/{name}/").status_code == 403


def test_anonymous_gets_401(region: RegionProcess) -> None:
    response = region.anonymous().get("zones/")
    assert response.status_code == 401
