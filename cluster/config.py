"""
The cluster's configuration: one frozen object, loaded once in ``main``.

Precedence, lowest first: built-in defaults, a TOML file (``--config`` or
``MAAS_CLUSTER_CONFIG``), environment variables (``MAAS_URL`` and
``CLUSTER_UUID`` as in MAAS 1.8's ``maas_cluster.conf``, plus
``MAAS_SECRET_FILE``, ``MAAS_CLUSTER_STATE_DIR``, ``MAAS_LOG_LEVEL``),
command-line flags.  Every problem is reported at once (:class:`ConfigError`).

Two settings are resolved from files while loading, so that a bad install
fails before the daemon starts:

- the shared secret is read from ``secret_file`` (hex, as ``maas-region
  shared-secret --write FILE`` writes it).  It is kept out of ``repr`` and
  never logged;
- without a configured uuid, the cluster's uuid is read from
  ``<state_dir>/cluster_uuid``, or generated and written there on first run,
  so a cluster keeps its identity across restarts.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat
import tomllib
import uuid as uuid_module
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from hyperlink import URL

from rpc.auth import read_secret

DEFAULT_REGION_URL = "http://localhost:5240/MAAS/"
#: Where 1.8's clusters read the secret (``maas-provision install-shared-secret``).
DEFAULT_SECRET_FILE = "/var/lib/maas/secret"  # noqa: S105 - a path, not a secret
DEFAULT_STATE_DIR = "/var/lib/maas-cluster"
#: The file in the state directory that keeps a generated uuid.
UUID_FILE = "cluster_uuid"
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")

#: What the region accepts as a cluster uuid (and it refuses ``master``).
_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_RESERVED_UUIDS = frozenset({"master"})

#: Environment variable -> setting.
ENVIRONMENT = (
    ("MAAS_URL", "region_url"),
    ("CLUSTER_UUID", "uuid"),
    ("MAAS_SECRET_FILE", "secret_file"),
    ("MAAS_CLUSTER_STATE_DIR", "state_dir"),
    ("MAAS_LOG_LEVEL", "log_level"),
)


class ConfigError(Exception):
    """The configuration is not usable; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"- {problem}" for problem in problems))
        self.problems = problems


@attrs.frozen
class ClusterConfig:
    """Everything the cluster daemon is told; built by :meth:`load`."""

    #: The region's URL as this cluster reaches it, ending with ``/``
    #: (``http://10.0.0.1:5240/MAAS/``); event loops are discovered at ``<url>rpc/``.
    region_url: str
    #: The shared secret (from ``secret_file``); never shown.
    secret: bytes = attrs.field(repr=False)
    secret_file: str
    uuid: str
    #: A name for this cluster in its own logs (the wire has no field for it).
    name: str
    state_dir: str = DEFAULT_STATE_DIR
    log_level: str = "info"
    #: Seconds between two listings of the power monitor while no node is due
    #: (1.8: 15 between rounds; see cluster.power.monitor).
    power_monitor_interval: float = 2.0
    #: Power queries the monitor runs at once at most: the cap of its adaptive
    #: limit (1.8: a fixed 5).
    power_monitor_concurrency: int = 512
    #: ... and at least, however many queries time out.
    power_monitor_min_concurrency: int = 4
    #: Seconds one monitor query may take.
    power_monitor_query_timeout: float = 20.0
    #: Seconds an unchanged power state waits to share a report (changed: 0.25 s).
    power_report_interval: float = 2.0
    #: Seconds between two summary lines of the power monitor (0: none).
    power_monitor_summary_interval: float = 60.0
    #: Seconds between two GetClusterStatus questions on each connection.
    region_status_interval: float = 30.0

    @property
    def discovery_url(self) -> str:
        """Where the region lists its RPC event loops (``GET <region_url>rpc/``)."""
        return self.region_url + "rpc/"

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str],
        path: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        new_uuid: Callable[[], str] = lambda: str(uuid_module.uuid4()),
    ) -> ClusterConfig:
        """Build the configuration; raise ConfigError listing every problem."""
        raw: dict[str, Any] = {}
        problems: list[str] = []
        path = path or environ.get("MAAS_CLUSTER_CONFIG")
        if path:
            try:
                with open(path, "rb") as stream:
                    raw.update(tomllib.load(stream))
            except (OSError, tomllib.TOMLDecodeError) as error:
                problems.append(f"cannot read config file {path}: {error}")
        for variable, key in ENVIRONMENT:
            if environ.get(variable):
                raw[key] = environ[variable]
        raw.update({k: v for k, v in (overrides or {}).items() if v is not None})

        known = {field.name for field in attrs.fields(cls)} - {"secret"}
        for key in sorted(set(raw) - known):
            problems.append(f"unknown setting {key!r}")

        values: dict[str, Any] = {}
        values["region_url"] = _region_url(str(raw.get("region_url", DEFAULT_REGION_URL)),
                                           problems)
        values["state_dir"] = str(raw.get("state_dir", DEFAULT_STATE_DIR))
        values["name"] = str(raw.get("name") or socket.gethostname())
        level = str(raw.get("log_level", "info")).lower()
        if level not in LOG_LEVELS:
            problems.append(f"log_level: {level!r} is not one of {'/'.join(LOG_LEVELS)}")
        values["log_level"] = level
        _number(raw, "power_monitor_interval", float, 1.0, values, problems)
        _number(raw, "power_monitor_concurrency", int, 1, values, problems)
        _number(raw, "power_monitor_min_concurrency", int, 1, values, problems)
        _number(raw, "power_monitor_query_timeout", float, 1.0, values, problems)
        _number(raw, "power_report_interval", float, 0.0, values, problems)
        _number(raw, "power_monitor_summary_interval", float, 0.0, values, problems)
        if values.get("power_monitor_min_concurrency", 4) > values.get(
                "power_monitor_concurrency", 512):
            problems.append("power_monitor_min_concurrency must not be above "
                            "power_monitor_concurrency")
        _number(raw, "region_status_interval", float, 1.0, values, problems)

        secret_file = str(raw.get("secret_file", DEFAULT_SECRET_FILE))
        values["secret_file"] = secret_file
        values["secret"] = _secret(secret_file, problems)

        if raw.get("uuid"):
            values["uuid"] = str(raw["uuid"]).strip()
            _check_uuid(values["uuid"], "uuid", problems)
        elif not problems:
            # Only now: never write a uuid file for a configuration that fails.
            values["uuid"] = _stored_uuid(Path(values["state_dir"]), new_uuid, problems)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def _region_url(text: str, problems: list[str]) -> str:
    try:
        url = URL.from_text(text.strip())
    except Exception as error:  # hyperlink raises several types
        problems.append(f"region_url: {text!r} is not a URL ({error})")
        return text
    if url.scheme not in ("http", "https") or not url.host:
        problems.append(
            f"region_url: {text!r} is not an http(s) URL with a host "
            "(for example http://10.0.0.1:5240/MAAS/)")
        return text
    if url.query or url.fragment:
        problems.append(f"region_url: {text!r} must not have a query or a fragment")
    rendered: str = url.replace(query=(), fragment="").to_text()
    return rendered if rendered.endswith("/") else rendered + "/"


def _number(raw: Mapping[str, Any], key: str, kind: type[Any], minimum: float,
            values: dict[str, Any], problems: list[str]) -> None:
    if key not in raw:
        return
    try:
        value = kind(raw[key])
    except (TypeError, ValueError):
        problems.append(f"{key}: {raw[key]!r} is not a number")
        return
    if value < minimum:
        problems.append(f"{key} must be at least {minimum:g}")
        return
    values[key] = value


def _secret(path: str, problems: list[str]) -> bytes:
    hint = "(write it on the region with 'maas-region shared-secret --write FILE')"
    try:
        secret = read_secret(path)
    except FileNotFoundError:
        problems.append(f"secret_file: there is no shared secret file at {path} {hint}")
        return b""
    except OSError as error:
        problems.append(f"secret_file: cannot read {path}: {error.strerror} {hint}")
        return b""
    except ValueError as error:  # read_secret's messages never include the secret
        problems.append(f"secret_file: {error} {hint}")
        return b""
    return secret


def secret_file_warning(path: str) -> str | None:
    """A warning if the secret file is readable by every user (the region writes 0640)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & stat.S_IROTH:
        return f"{path} is readable by every user; consider 'chmod o-r {path}'"
    return None


def _check_uuid(value: str, source: str, problems: list[str]) -> None:
    if value in _RESERVED_UUIDS:
        problems.append(f"{source}: {value!r} is reserved by the region; choose another uuid")
    elif not _UUID.match(value):
        problems.append(f"{source}: {value[:80]!r} is not a valid cluster uuid (1 to 64 "
                        "letters, digits, '.', '_', ':' or '-', starting with a letter or digit)")


def _stored_uuid(state_dir: Path, new_uuid: Callable[[], str], problems: list[str]) -> str:
    """The uuid kept in the state directory, generated and written on first use."""
    target = state_dir / UUID_FILE
    try:
        stored = target.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        stored = ""
    except OSError as error:
        problems.append(f"state_dir: cannot read {target}: {error.strerror} "
                        "(give --uuid, or a writable --state-dir)")
        return ""
    if stored:
        _check_uuid(stored, str(target), problems)
        return stored
    value = new_uuid()
    try:
        state_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        temporary = target.with_name(f".{UUID_FILE}.{secrets.token_hex(4)}.tmp")
        temporary.write_text(value + "\n", encoding="utf-8")
        os.replace(temporary, target)
    except OSError as error:
        problems.append(f"state_dir: cannot keep the cluster uuid in {target}: "
                        f"{error.strerror} (give --uuid, or a writable --state-dir)")
    return value
