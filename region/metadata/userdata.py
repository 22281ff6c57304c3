"""
What the metadata service hands to nodes: preseeds, user-data scripts and
the commissioning scripts archive.

The built-in commissioning scripts (``scripts/``) and the user-data
templates (``templates/``) ship as package data.  :func:`load_assets` reads
them once, when the service is built and before the reactor runs; nothing
here reads files afterwards.  The scripts archive is built in memory, one
member at a time, yielding to the reactor between members, and its size is
capped.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import attrs
from twisted.internet.task import deferLater

from region.db.tokens import Token

#: The directory the scripts sit in inside the archive.
SCRIPTS_DIR = "commissioning.d"
#: The largest scripts archive served, in bytes.
MAX_SCRIPTS_ARCHIVE = 32 * 1024 * 1024

#: Built-in scripts, in the order a node runs them (their names sort that way).
BUILTIN_SCRIPT_NAMES = (
    "00-maas-01-lshw",
    "00-maas-02-virtuality",
    "00-maas-03-install-lldpd",
    "00-maas-04-list-modaliases",
    "00-maas-05-network-interfaces",
    "00-maas-06-dhcp-unconfigured-ifaces",
    "00-maas-07-block-devices",
    "99-maas-01-wait-for-lldpd",
    "99-maas-02-capture-lldp",
)
_TEMPLATES = ("commissioning-user-data", "enlist-user-data", "poweroff-user-data")
_CONFIG_MARK = b"@@CONFIG@@"


class ArchiveTooLarge(Exception):
    """The commissioning scripts add up to more than the archive may hold."""


@attrs.frozen
class Script:
    name: str
    content: bytes


@attrs.frozen
class Assets:
    """The files shipped with the region that nodes are given."""

    scripts: tuple[Script, ...]
    templates: Mapping[str, bytes]


def load_assets() -> Assets:
    """Read the built-in scripts and templates (call once, before the reactor runs)."""
    package = resources.files("region.metadata")
    scripts = tuple(Script(name, (package / "scripts" / name).read_bytes())
                    for name in BUILTIN_SCRIPT_NAMES)
    templates = {name: (package / "templates" / f"{name}.tmpl").read_bytes()
                 for name in _TEMPLATES}
    return Assets(scripts, templates)


def _fill(template: bytes, config: Mapping[str, str]) -> bytes:
    encoded = base64.b64encode(json.dumps(dict(config), sort_keys=True).encode("utf-8"))
    return template.replace(_CONFIG_MARK, encoded)


def metadata_url(maas_url: str) -> str:
    """Where nodes find the metadata service: MAAS_URL + ``metadata/``."""
    return maas_url.rstrip("/") + "/metadata/"


def _cloud_config(datasource: Mapping[str, str]) -> str:
    # JSON strings are valid YAML scalars, so values need no further quoting.
    lines = ["#cloud-config", "datasource:", "  MAAS:"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in datasource.items()]
    return "\n".join(lines) + "\n"


def node_preseed(maas_url: str, token: Token) -> str:
    """The preseed (cloud-config) that hands a node its metadata credentials."""
    return _cloud_config({
        "metadata_url": metadata_url(maas_url),
        "consumer_key": token.consumer_key,
        "token_key": token.token_key,
        "token_secret": token.token_secret,
    })


def enlist_preseed(maas_url: str) -> str:
    """The preseed of an unknown machine: enlistment needs no credentials."""
    return _cloud_config({"metadata_url": metadata_url(maas_url) + "enlist/"})


def commissioning_user_data(assets: Assets, maas_url: str, token: Token) -> bytes:
    """The script a commissioning node runs: fetch the scripts, run them, signal."""
    return _fill(assets.templates["commissioning-user-data"], {
        "metadata_url": metadata_url(maas_url),
        "version": "latest",
        "consumer_key": token.consumer_key,
        "token_key": token.token_key,
        "token_secret": token.token_secret,
    })


def enlist_user_data(assets: Assets, maas_url: str) -> bytes:
    """The script an enlisting machine runs: report itself to the API, power off."""
    return _fill(assets.templates["enlist-user-data"],
                 {"api_url": maas_url.rstrip("/") + "/api/1.0/"})


def poweroff_user_data(assets: Assets) -> bytes:
    return assets.templates["poweroff-user-data"]


def merge_scripts(builtin: Iterable[Script], uploaded: Iterable[Script]) -> list[Script]:
    """Every script a node runs, in name order; a built-in wins a name clash."""
    merged = {script.name: script for script in uploaded}
    merged.update({script.name: script for script in builtin})
    return [merged[name] for name in sorted(merged)]


async def build_scripts_archive(scripts: Sequence[Script], clock: Any, *, mtime: float,
                                limit: int = MAX_SCRIPTS_ARCHIVE) -> bytes:
    """
    A tar archive of the scripts under ``commissioning.d/``, executable.

    Built in memory, yielding to the reactor (``clock``) after each member.

    :raise ArchiveTooLarge: when the scripts add up to more than limit bytes.
    """
    total = sum(len(script.content) for script in scripts)
    if total > limit:
        raise ArchiveTooLarge(
            f"The commissioning scripts add up to {total} bytes, more than the "
            f"{limit} bytes a node may be sent; remove or shrink some.")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for script in scripts:
            info = tarfile.TarInfo(f"{SCRIPTS_DIR}/{script.name}")
            info.size = len(script.content)
            info.mode = 0o755
            info.mtime = int(mtime)
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(script.content))
            await deferLater(clock, 0)
    return buffer.getvalue()


def text_listing(names: Iterable[str]) -> str:
    """A metadata listing: sorted, newline-joined."""
    return "\n".join(sorted(names))
