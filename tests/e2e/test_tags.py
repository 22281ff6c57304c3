"""Tags over HTTP against a real region process."""

from __future__ import annotations

import random
import secrets

import pytest

from tests.e2e.test_nodes import enlist
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def name() -> str:
    return f"tag-{secrets.token_hex(4)}"


def test_manual_tag_lifecycle(admin: MAASClient) -> None:
    """Create, read, tag nodes by hand, list them, rename, delete."""
    tag = name()
    created = admin.post("tags/", "new", name=tag, comment="by hand", kernel_opts="quiet")
    assert created.status_code == 200, created.text
    assert created.json() == {"name": tag, "definition": "", "comment": "by hand",
                              "kernel_opts": "quiet", "resource_uri": f"/MAAS/api/1.0/tags/{tag}/"}
    sid = enlist(admin)["system_id"]
    counts = admin.post(f"tags/{tag}/", "update_nodes", add=[sid])
    assert counts.json() == {"added": 1, "removed": 0}
    assert [n["system_id"] for n in admin.get(f"tags/{tag}/", "nodes").json()] == [sid]
    assert tag in admin.get(f"nodes/{sid}/").json()["tag_names"]
    assert admin.post(f"tags/{tag}/", "update_nodes", remove=[sid]).json() == {
        "added": 0, "removed": 1}
    renamed = name()
    assert admin.put(f"tags/{tag}/", name=renamed).json()["name"] == renamed
    assert admin.get(f"tags/{tag}/").status_code == 404
    assert renamed in [t["name"] for t in admin.get("tags/", "list").json()]
    assert admin.delete(f"tags/{renamed}/").status_code == 204


def test_invalid_xpath_is_a_400_with_the_reason(admin: MAASClient) -> None:
    response = admin.post("tags/", "new", name=name(), definition="//node[@id=")
    assert response.status_code == 400
    assert "definition" in response.json()


def test_update_nodes_checks_the_definition(admin: MAASClient) -> None:
    """A worker's result for an older definition is refused with 409."""
    tag = name()
    admin.post("tags/", "new", name=tag, definition="//node[@class='system']")
    response = admin.post(f"tags/{tag}/", "update_nodes", definition="//other", add=[])
    assert response.status_code == 409
    assert admin.post(f"tags/{tag}/", "update_nodes", definition="//node[@class='system']",
                      add=[]).status_code == 200


def test_tags_are_admin_only_for_writes(region: RegionProcess, admin: MAASClient) -> None:
    _, user = region.new_user(admin)
    assert user.get("tags/", "list").status_code == 200
    assert user.post("tags/", "new", name=name()).status_code == 403


def test_acquire_by_tag(admin: MAASClient) -> None:
    """acquire's tags constraint picks the tagged READY node; unknown tags are a 400."""
    tag = name()
    admin.post("tags/", "new", name=tag)
    node = enlist(admin)
    sid = node["system_id"]
    admin.post(f"nodes/{sid}/", "mark_broken")
    admin.post(f"nodes/{sid}/", "mark_fixed")
    admin.post(f"tags/{tag}/", "update_nodes", add=[sid])
    got = admin.post("nodes/", "acquire", tags=tag)
    assert got.status_code == 200 and got.json()["system_id"] == sid
    assert admin.post("nodes/", "acquire", tags=f"nope-{random.randrange(10**6)}"
                      ).status_code == 400
    assert admin.post("nodes/", "acquire", tags=tag).status_code == 409
