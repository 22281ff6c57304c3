"""maas/ op=get_config|set_config over HTTP against a real region process."""

from __future__ import annotations

import socket

import pytest

from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e

NOT_ALLOWED = "User is not allowed access to this API."

#: Every item 1.8 serves through maas/ (reference §11, less the internal RPC ones).
API_ITEMS = (
    "maas_name", "main_archive", "ports_archive", "commissioning_osystem",
    "commissioning_distro_series", "default_osystem", "default_distro_series", "http_proxy",
    "upstream_dns", "dnssec_validation", "ntp_server", "kernel_opts", "windows_kms_host",
    "boot_images_auto_import", "enable_third_party_drivers", "enable_disk_erasing_on_release",
)


def new_user_or_skip(region: RegionProcess, admin: MAASClient) -> MAASClient:
    """A plain user's client; skips while POST users/ is not served yet."""
    resources = region.anonymous().get("describe/").json()["resources"]
    users = {r["name"]: r for r in resources}.get("UsersHandler") or {}
    actions = (users.get("auth") or {}).get("actions", [])
    if not any(a["method"] == "POST" and a["op"] is None for a in actions):
        pytest.skip("needs POST users/ (UsersHandler.create), not served yet")
    return region.new_user(admin)[1]


def get_config(client: MAASClient, name: str) -> object:
    response = client.get("maas/", op="get_config", name=name)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def set_config(client: MAASClient, name: str, value: str, **kwargs: str) -> None:
    response = client.post("maas/", op="set_config", name=name, value=value, **kwargs)
    assert response.status_code == 200, response.text
    assert response.text == "OK"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_anonymous_is_forbidden(region: RegionProcess) -> None:
    """maas/ is admin-only: 403 even without credentials, for reads and writes."""
    anonymous = region.anonymous()
    for response in (anonymous.get("maas/", op="get_config", name="maas_name"),
                     anonymous.post("maas/", op="set_config", name="maas_name", value="x")):
        assert response.status_code == 403
        assert response.text == NOT_ALLOWED


def test_non_admin_is_forbidden(region: RegionProcess, admin: MAASClient) -> None:
    """A plain user gets 403 on maas/ too."""
    user = new_user_or_skip(region, admin)
    response = user.get("maas/", op="get_config", name="maas_name")
    assert response.status_code == 403
    assert response.text == NOT_ALLOWED


def test_unset_items_return_their_defaults(admin: MAASClient) -> None:
    """Items nobody has set read as 1.8's stored defaults, as JSON values."""
    assert get_config(admin, "maas_name") == socket.gethostname()
    assert get_config(admin, "ports_archive") == "http://ports.ubuntu.com/ubuntu-ports"
    assert get_config(admin, "commissioning_distro_series") == "trusty"
    assert get_config(admin, "windows_kms_host") is None
    assert get_config(admin, "enable_third_party_drivers") is True


def test_every_item_can_be_read(admin: MAASClient) -> None:
    """Each configuration item of 1.8 answers get_config with 200."""
    for name in API_ITEMS:
        get_config(admin, name)


def test_set_then_get_round_trips(admin: MAASClient) -> None:
    """A value set is read back, with its JSON type (strings, booleans)."""
    set_config(admin, "main_archive", "http://mirror.example.com/ubuntu")
    assert get_config(admin, "main_archive") == "http://mirror.example.com/ubuntu"
    set_config(admin, "enable_disk_erasing_on_release", "true")
    assert get_config(admin, "enable_disk_erasing_on_release") is True
    set_config(admin, "enable_disk_erasing_on_release", "False")
    assert get_config(admin, "enable_disk_erasing_on_release") is False
    set_config(admin, "main_archive", "http://archive.ubuntu.com/ubuntu")


def test_set_config_accepts_urlencoded_bodies(admin: MAASClient) -> None:
    """gomaasapi's urlencoded POST (op in the query string) works like multipart."""
    set_config(admin, "kernel_opts", "console=ttyS0,115200 quiet", form="urlencoded")
    assert get_config(admin, "kernel_opts") == "console=ttyS0,115200 quiet"
    set_config(admin, "kernel_opts", "")
    assert get_config(admin, "kernel_opts") == ""


def test_upstream_dns_is_normalised(admin: MAASClient) -> None:
    """upstream_dns keeps the addresses, single-spaced."""
    set_config(admin, "upstream_dns", "  8.8.8.8    2001:4860:4860::8888 ")
    assert get_config(admin, "upstream_dns") == "8.8.8.8 2001:4860:4860::8888"


def test_unknown_name_is_a_form_error(admin: MAASClient) -> None:
    """An unknown item is a 400 naming it, for get_config and set_config alike."""
    for response in (admin.get("maas/", op="get_config", name="no_such_item"),
                     admin.post("maas/", op="set_config", name="no_such_item", value="1")):
        assert response.status_code == 400
        assert response.headers["Content-Type"].startswith("application/json")
        assert list(response.json()) == ["name"]
        assert "'no_such_item'" in response.json()["name"][0]


def test_internal_items_are_not_served(admin: MAASClient) -> None:
    """The RPC shared secret cannot be read or set through the API."""
    assert admin.get("maas/", op="get_config", name="rpc_shared_secret").status_code == 400
    response = admin.post("maas/", op="set_config", name="rpc_shared_secret", value="x")
    assert response.status_code == 400


@pytest.mark.parametrize(("name", "value"), [
    ("main_archive", "not a url"),
    ("http_proxy", "gopher://proxy.example.com/"),
    ("dnssec_validation", "sometimes"),
    ("upstream_dns", "8.8.8.8 dns.example.com"),
    ("default_distro_series", "hoary-hedgehog"),
    ("default_osystem", "plan9"),
    ("maas_name", ""),
])
def test_invalid_value_is_a_form_error(admin: MAASClient, name: str, value: str) -> None:
    """An invalid value is a 400 {"value": [...]} and leaves the stored value alone."""
    before = get_config(admin, name)
    response = admin.post("maas/", op="set_config", name=name, value=value)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["value"]
    assert get_config(admin, name) == before


def test_nul_in_a_value_is_refused(admin: MAASClient) -> None:
    """A NUL character is refused at the edge (400) and nothing is stored."""
    before = get_config(admin, "ntp_server")
    response = admin.post("maas/", op="set_config", name="ntp_server", value="pool\x00.ntp.org")
    assert response.status_code == 400
    assert get_config(admin, "ntp_server") == before


def test_missing_parameters_are_form_errors(admin: MAASClient) -> None:
    """set_config needs name and value; get_config needs name."""
    response = admin.post("maas/", op="set_config", name="maas_name")
    assert response.status_code == 400
    assert response.json() == {"value": ["This field is required."]}
    response = admin.post("maas/", op="set_config", value="x")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    response = admin.get("maas/", op="get_config")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
