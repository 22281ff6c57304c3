"""
What this cluster says it can boot: architectures and operating systems.

MAAS 1.8's cluster derived both from its boot images (and its driver
registries).  Until this cluster imports images (a later issue), it answers
with the fixed lists below, which match what the region knows without any
cluster (``region/domain/architectures.py``, ``region/domain/config_items.py``):
Ubuntu only, its releases from precise on, the LTS releases able to
commission, trusty the default (the LTS when 1.8 shipped).
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Release:
    name: str
    version: str
    codename: str
    lts: bool = False

    @property
    def title(self) -> str:
        """The title Ubuntu's distro-info gives: ``Ubuntu 14.04 LTS "Trusty Tahr"``."""
        lts = " LTS" if self.lts else ""
        return f'Ubuntu {self.version}{lts} "{self.codename}"'


#: Oldest first.
UBUNTU_RELEASES: tuple[Release, ...] = (
    Release("precise", "12.04", "Precise Pangolin", lts=True),
    Release("quantal", "12.10", "Quantal Quetzal"),
    Release("raring", "13.04", "Raring Ringtail"),
    Release("saucy", "13.10", "Saucy Salamander"),
    Release("trusty", "14.04", "Trusty Tahr", lts=True),
    Release("utopic", "14.10", "Utopic Unicorn"),
    Release("vivid", "15.04", "Vivid Vervet"),
    Release("wily", "15.10", "Wily Werewolf"),
    Release("xenial", "16.04", "Xenial Xerus", lts=True),
    Release("bionic", "18.04", "Bionic Beaver", lts=True),
    Release("focal", "20.04", "Focal Fossa", lts=True),
    Release("jammy", "22.04", "Jammy Jellyfish", lts=True),
    Release("noble", "24.04", "Noble Numbat", lts=True),
)
DEFAULT_RELEASE = "trusty"

#: ``arch/subarch`` -> description (the architectures a 2015 cluster could boot).
ARCHITECTURES: dict[str, str] = {
    "amd64/generic": "amd64",
    "i386/generic": "i386",
    "armhf/generic": "armhf/generic",
    "armhf/highbank": "armhf/highbank",
    "armhf/keystone": "armhf/keystone",
    "arm64/generic": "arm64/generic",
    "arm64/xgene-uboot": "arm64/xgene-uboot",
    "arm64/xgene-uboot-mustang": "arm64/xgene-uboot-mustang",
    "ppc64el/generic": "ppc64el",
}


def list_architectures() -> list[dict[str, str]]:
    """The ``architectures`` of ListSupportedArchitectures, sorted by name."""
    return [{"name": name, "description": description}
            for name, description in sorted(ARCHITECTURES.items())]


def list_operating_systems() -> list[dict[str, Any]]:
    """The ``osystems`` of ListOperatingSystems: Ubuntu and its releases."""
    return [{
        "name": "ubuntu",
        "title": "Ubuntu",
        "releases": [{"name": release.name, "title": release.title,
                      "requires_license_key": False, "can_commission": release.lts}
                     for release in UBUNTU_RELEASES],
        "default_release": DEFAULT_RELEASE,
        "default_commissioning_release": DEFAULT_RELEASE,
    }]


def release_title(osystem: str, release: str) -> str | None:
    """The title of an operating system's release, or None if either is unknown."""
    if osystem != "ubuntu":
        return None
    for known in UBUNTU_RELEASES:
        if known.name == release:
            return known.title
    return None
