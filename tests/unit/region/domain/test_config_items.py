"""The configuration items of MAAS 1.8: names, defaults and validation."""

from __future__ import annotations

import socket

import pytest

from region.domain import config_items as ci

#: Every item of MAAS 1.8 (reference §11) and its stored default.
STORED_DEFAULTS = {
    "main_archive": "http://archive.ubuntu.com/ubuntu",
    "ports_archive": "http://ports.ubuntu.com/ubuntu-ports",
    "commissioning_osystem": "ubuntu",
    "commissioning_distro_series": "trusty",
    "default_osystem": "ubuntu",
    "default_distro_series": "trusty",
    "http_proxy": None,
    "upstream_dns": None,
    "dnssec_validation": "auto",
    "ntp_server": "ntp.ubuntu.com",
    "kernel_opts": None,
    "windows_kms_host": None,
    "boot_images_auto_import": True,
    "enable_third_party_drivers": True,
    "enable_disk_erasing_on_release": False,
}


def clean(name: str, text: str) -> object:
    return ci.ITEMS[name].clean(text)


def invalid(name: str, text: str) -> str:
    with pytest.raises(ci.InvalidValue) as caught:
        clean(name, text)
    return str(caught.value)


class TestItems:
    def test_every_item_of_maas_18_is_defined(self) -> None:
        """The items are exactly 1.8's, including the two internal RPC ones."""
        assert set(ci.ITEMS) == set(STORED_DEFAULTS) | {
            "maas_name", "rpc_region_certificate", "rpc_shared_secret"}

    @pytest.mark.parametrize("name", sorted(STORED_DEFAULTS))
    def test_stored_default(self, name: str) -> None:
        """An item that was never set has 1.8's stored default."""
        assert ci.ITEMS[name].default_value() == STORED_DEFAULTS[name]

    def test_maas_name_defaults_to_the_host_name(self) -> None:
        """maas_name defaults to the name of the host the region runs on."""
        assert ci.ITEMS["maas_name"].default_value() == socket.gethostname()

    def test_internal_items_are_not_reachable_through_the_api(self) -> None:
        """The RPC secret and certificate are neither readable nor settable via maas/."""
        for name in ("rpc_shared_secret", "rpc_region_certificate"):
            assert name not in ci.API_ITEMS
            with pytest.raises(ci.UnknownItem):
                ci.api_item(name)

    def test_unknown_item_names_itself_and_the_valid_ones(self) -> None:
        """The error for an unknown name quotes it and lists what is available."""
        with pytest.raises(ci.UnknownItem) as caught:
            ci.api_item("no_such_item")
        message = str(caught.value)
        assert "'no_such_item'" in message
        assert "main_archive" in message
        assert "rpc_shared_secret" not in message

    def test_description_lists_every_api_item(self) -> None:
        """The operation docs name each item the API serves."""
        text = ci.describe_items()
        for name in ci.API_ITEMS:
            assert f"- {name}: " in text

    def test_null_characters_are_refused_everywhere(self) -> None:
        """No item accepts a NUL character (PostgreSQL cannot store it in JSON text)."""
        for name in ci.API_ITEMS:
            assert "Null" in invalid(name, "a\x00b")


class TestURLs:
    @pytest.mark.parametrize("url", [
        "http://archive.ubuntu.com/ubuntu",
        "https://mirror.example.com:8443/ubuntu/",
        "ftp://10.0.0.1/ubuntu",
        "http://[2001:db8::1]:8080/ubuntu",
        "http://mirror/ubuntu",
        "http://user:secret@proxy.example.com:3128/",
    ])
    def test_valid_archive_urls_are_kept(self, url: str) -> None:
        """Archive URLs with a known scheme and a valid host are stored as given."""
        assert clean("main_archive", url) == url
        assert clean("ports_archive", url) == url

    def test_a_url_without_scheme_is_http(self) -> None:
        """As Django's URLField does, a bare host/path is taken as http://."""
        assert clean("main_archive", "mirror.example.com/ubuntu") == \
            "http://mirror.example.com/ubuntu"

    @pytest.mark.parametrize("url", [
        "", "   ", "gopher://example.com/", "http://", "http://exa mple.com/",
        "http://-bad-.example.com/", "http://999.1.1.1/", "http://[zz::1]/",
        "http://example.com:99999/", "http://exa_mple.com/",
    ])
    def test_invalid_archive_urls_are_refused(self, url: str) -> None:
        """A required archive URL must be a real http(s)/ftp(s) URL with a valid host."""
        invalid("main_archive", url)

    def test_empty_proxy_clears_it(self) -> None:
        """http_proxy is optional: empty is stored as the empty string."""
        assert clean("http_proxy", "") == ""
        assert clean("http_proxy", "http://proxy.example.com:3128/") == \
            "http://proxy.example.com:3128/"

    def test_invalid_proxy_is_refused(self) -> None:
        """A proxy that is given must be a valid URL."""
        assert "valid URL" in invalid("http_proxy", "http://bad host/")


class TestChoices:
    @pytest.mark.parametrize("value", ["auto", "yes", "no"])
    def test_dnssec_validation_choices(self, value: str) -> None:
        """dnssec_validation accepts exactly auto, yes and no."""
        assert clean("dnssec_validation", value) == value

    @pytest.mark.parametrize("value", ["", "Auto", "true", "maybe"])
    def test_dnssec_validation_rejects_others(self, value: str) -> None:
        """Any other dnssec_validation value is refused with the choices listed."""
        assert "auto, yes, no" in invalid("dnssec_validation", value)

    def test_default_distro_series_accepts_2015_releases_and_later_lts(self) -> None:
        """Deployment may use any release known in 2015, and later LTS releases."""
        for series in ("precise", "trusty", "vivid", "wily", "xenial", "noble"):
            assert clean("default_distro_series", series) == series
        invalid("default_distro_series", "warty-warthog")
        invalid("default_distro_series", "ubuntu/trusty")

    def test_commissioning_series_must_be_lts(self) -> None:
        """Only LTS releases commission nodes."""
        assert clean("commissioning_distro_series", "trusty") == "trusty"
        assert clean("commissioning_distro_series", "jammy") == "jammy"
        invalid("commissioning_distro_series", "vivid")

    def test_osystems(self) -> None:
        """Ubuntu is the operating system choice until other OS images exist."""
        assert clean("default_osystem", "ubuntu") == "ubuntu"
        assert clean("commissioning_osystem", "ubuntu") == "ubuntu"
        invalid("default_osystem", "plan9")
        invalid("commissioning_osystem", "centos")


class TestOtherKinds:
    @pytest.mark.parametrize(("text", "expected"), [
        ("true", True), ("True", True), ("1", True), ("yes", True), ("on", True),
        ("false", False), ("FALSE", False), ("0", False), ("", False),
    ])
    def test_booleans_follow_django(self, text: str, expected: bool) -> None:
        """'false', '0' and '' (any case) are false; anything else is true."""
        for name in ("boot_images_auto_import", "enable_third_party_drivers",
                     "enable_disk_erasing_on_release"):
            assert clean(name, text) is expected

    def test_upstream_dns_takes_space_separated_addresses(self) -> None:
        """upstream_dns is a space-separated list of IPv4/IPv6 addresses, normalised."""
        assert clean("upstream_dns", " 8.8.8.8   2001:4860:4860::8888 ") == \
            "8.8.8.8 2001:4860:4860::8888"
        assert clean("upstream_dns", "") == ""

    @pytest.mark.parametrize("text", ["8.8.8", "8.8.8.8,8.8.4.4", "dns.example.com",
                                      "10.0.0.0/8", "1"])
    def test_upstream_dns_refuses_non_addresses(self, text: str) -> None:
        """Anything that is not an IP address is refused, and named."""
        assert "Invalid IP address" in invalid("upstream_dns", text)

    def test_maas_name_is_required(self) -> None:
        """maas_name cannot be blank."""
        assert clean("maas_name", "my maas") == "my maas"
        assert invalid("maas_name", "  ") == "This field is required."

    def test_optional_text_items_accept_anything(self) -> None:
        """kernel_opts, ntp_server and windows_kms_host take free text, even empty."""
        assert clean("kernel_opts", "console=ttyS0,115200 quiet") == "console=ttyS0,115200 quiet"
        assert clean("ntp_server", "") == ""
        assert clean("windows_kms_host", "kms.example.com") == "kms.example.com"
