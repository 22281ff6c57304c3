"""
The region's configuration: one frozen object, loaded once in ``main``.

Precedence, lowest first: built-in defaults, a TOML file (``--config`` or
``MAAS_REGION_CONFIG``), environment variables (``MAAS_DATABASE_URL``,
``MAAS_URL``, ...), command-line flags.  Every problem is reported at once.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

DEFAULT_DATABASE_URL = "postgresql:///maas"


class ConfigError(Exception):
    """The configuration is not usable; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"- {problem}" for problem in problems))
        self.problems = problems


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6; a bare host takes default_port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"no host in {text!r}")
    if not port_text:
        return host, default_port
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def endpoint_description(host: str, port: int) -> str:
    """A Twisted server endpoint string for host and port."""
    escaped = host.replace(":", r"\:")
    return f"tcp:port={port}:interface={escaped}"


def redact_url(url: str) -> str:
    """A database URL with its password hidden, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@attrs.frozen
class RegionConfig:
    database_url: str = DEFAULT_DATABASE_URL
    listen: tuple[str, int] = ("0.0.0.0", 5240)  # noqa: S104 - a region serves its rack
    rpc_listen: tuple[str, int] = ("0.0.0.0", 5250)  # noqa: S104
    #: How nodes and clusters reach this region (``MAAS_URL``).
    maas_url: str | None = None
    db_pool_size: int = 8
    log_level: str = "info"

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str],
        path: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> RegionConfig:
        """Build the configuration; raise ConfigError listing every problem."""
        raw: dict[str, Any] = {}
        problems: list[str] = []
        path = path or environ.get("MAAS_REGION_CONFIG")
        if path:
            try:
                with open(path, "rb") as stream:
                    raw.update(tomllib.load(stream))
            except (OSError, tomllib.TOMLDecodeError) as error:
                problems.append(f"cannot read config file {path}: {error}")
        for variable, key in (
            ("MAAS_DATABASE_URL", "database_url"),
            ("MAAS_URL", "maas_url"),
            ("MAAS_REGION_LISTEN", "listen"),
            ("MAAS_REGION_RPC_LISTEN", "rpc_listen"),
            ("MAAS_LOG_LEVEL", "log_level"),
        ):
            if environ.get(variable):
                raw[key] = environ[variable]
        raw.update({k: v for k, v in (overrides or {}).items() if v is not None})

        values: dict[str, Any] = {}
        known = {field.name for field in attrs.fields(cls)}
        for key in sorted(set(raw) - known):
            problems.append(f"unknown setting {key!r}")
        for key, default_port in (("listen", 5240), ("rpc_listen", 5250)):
            if key in raw:
                try:
                    values[key] = parse_hostport(str(raw[key]), default_port)
                except ValueError as error:
                    problems.append(f"{key}: {error}")
        if "database_url" in raw:
            url = str(raw["database_url"])
            if not (url.startswith(("postgresql:", "postgres:")) or "=" in url):
                problems.append(
                    f"database_url: {redact_url(url)!r} is not a libpq URL "
                    "(postgresql://...) or key=value string")
            values["database_url"] = url
        if "maas_url" in raw:
            url = str(raw["maas_url"])
            if urlsplit(url).scheme not in ("http", "https"):
                problems.append(f"maas_url: {url!r} is not an http(s) URL")
            values["maas_url"] = url
        if "db_pool_size" in raw:
            try:
                values["db_pool_size"] = int(raw["db_pool_size"])
                if values["db_pool_size"] < 1:
                    problems.append("db_pool_size must be at least 1")
            except (TypeError, ValueError):
                problems.append("db_pool_size must be a whole number")
        if "log_level" in raw:
            level = str(raw["log_level"]).lower()
            if level not in ("debug", "info", "warn", "error", "critical"):
                problems.append(f"log_level: {level!r} is not debug/info/warn/error/critical")
            values["log_level"] = level
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    @property
    def effective_maas_url(self) -> str:
        if self.maas_url:
            return self.maas_url.rstrip("/") + "/"
        host, port = self.listen
        if host in ("0.0.0.0", "::"):  # noqa: S104
            host = os.uname().nodename
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/MAAS/"
