"""
The ``virsh`` power driver: a libvirt domain, driven through the ``virsh`` command.

What it does, as MAAS 1.8 did:

- ``power_address`` is the libvirt URI (``qemu+ssh://user@host/system``,
  ``qemu:///system``...; ``qemu://localhost/system`` when empty, the default
  the 1.8 region filled in) and ``power_id`` the domain name (or UUID);
- **query**: ``virsh -c URI domstate -- DOMAIN``; ``running`` and
  ``in shutdown`` are on; ``shut off``, ``no state``, ``idle``, ``paused``,
  ``crashed`` and ``pmsuspended`` are off (1.8's table); anything else is an
  error;
- **on**: only if the domain is not on: ``start`` (``resume`` for a paused
  domain, ``dompmwakeup`` for a suspended one, where 1.8 did nothing and
  then failed to see the node come up);
- **off**: only if the domain is not ``shut off``: ``destroy`` (a hard power
  off, as 1.8 did).

``power_pass`` is used for ``+ssh`` URIs only, the way 1.8 typed it at ssh's
prompt, but without a terminal: libvirt runs ``ssh``, which (with no tty and
``DISPLAY`` set) asks the program named by ``SSH_ASKPASS``.  Ours is a fixed
script in a private 0700 directory that prints the password from a 0600 file
beside it when asked for a password or passphrase, answers ``yes`` to the
first-connection host key question (accept-new, as 1.8's ``yes`` did; a
*changed* key still makes ssh refuse), and fails on anything else.  The
password is never in argv or the environment.  Other transports ignore it.

URI query parameters are restricted to a whitelist (``socket``, ``no_verify``,
``no_tty``, ``mode``, ``proxy``): libvirt's ``command``, ``netcat`` and
``keyfile`` would let a power parameter run a program or read a file on the
cluster.  The URI may not carry a password (``user:pass@``).

:func:`list_machines` lists the domains behind a URI (name, UUID, MACs,
architecture, power state) for the probe-and-enlist operation.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
from lxml import etree
from twisted.internet import defer

from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
    PowerToolError,
)
from power.ipmi_tools import Runner, write_private
from power.process import ProcessResult, find_program, run_process
from power.redact import scrub

#: The URI 1.8's region filled in when power_address was empty.
DEFAULT_URI = "qemu://localhost/system"

#: Query parameters a power_address URI may carry.
ALLOWED_URI_PARAMS = frozenset({"socket", "no_verify", "no_tty", "mode", "proxy"})

#: virsh domstate → MAAS power state (MAAS 1.8's table).
DOMAIN_STATES = {
    "running": "on",
    "in shutdown": "on",
    "shut off": "off",
    "no state": "off",
    "idle": "off",
    "paused": "off",
    "crashed": "off",
    "pmsuspended": "off",
}

#: How to bring a domain that is off in this state back on.
_WAKE = {"paused": "resume", "pmsuspended": "dompmwakeup"}

#: libvirt architecture → MAAS architecture (1.8's probe: x86_64 → amd64 and so on).
ARCHITECTURES = {
    "x86_64": "amd64/generic",
    "i686": "i386/generic",
    "i386": "i386/generic",
    "aarch64": "arm64/generic",
    "armv7l": "armhf/generic",
    "ppc64": "ppc64el/generic",
    "ppc64le": "ppc64el/generic",
    "s390x": "s390x/generic",
}

ASKPASS = """\
#!/bin/sh
# SSH_ASKPASS helper written by the MAAS virsh power driver: ssh runs it with
# its question as the only argument.  The password is in a 0600 file beside it.
case "$1" in
  *"(yes/no"*) echo yes ;;
  *assword*|*assphrase*) exec cat "$(dirname "$0")/password" ;;
  *) exit 1 ;;
esac
"""

_SCHEME = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9]+)?$")

_AUTH_PHRASES = (
    "authentication failed", "permission denied", "host key verification failed",
    "authentication unavailable", "access denied", "not authorized",
)
_CONN_PHRASES = (
    "connection refused", "no such file or directory", "connection reset",
    "timed out", "no route to host", "network is unreachable", "end of file while reading",
    "cannot recv data", "cannot write data", "name or service not known",
    "temporary failure in name resolution", "could not resolve",
)
_SETTING_PHRASES = (
    "no connection driver available", "invalid argument", "cannot read ca certificate",
    "unsupported configuration", "unable to find", "no valid connection",
)
_NO_DOMAIN = ("failed to get domain", "domain not found", "no domain with matching")


def check_uri(uri: str) -> str:
    """The URI if it is safe to hand to ``virsh -c``; PowerSettingError if not."""
    if not uri or uri != uri.strip() or uri.startswith("-"):
        raise PowerSettingError(f"power_address '{uri}' is not a libvirt URI.")
    if any(ord(char) < 32 or ord(char) == 127 for char in uri):
        raise PowerSettingError("power_address contains a control character.")
    parts = urlsplit(uri)
    if not _SCHEME.match(parts.scheme):
        raise PowerSettingError(
            f"power_address '{uri}' is not a libvirt URI (like qemu+ssh://user@host/system)."
        )
    if parts.password is not None:
        raise PowerSettingError(
            "power_address must not hold a password: put it in power_pass."
        )
    names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    refused = sorted(names - ALLOWED_URI_PARAMS)
    if refused:
        raise PowerSettingError(
            f"power_address may not set the libvirt URI parameter(s) {', '.join(refused)} "
            f"(allowed: {', '.join(sorted(ALLOWED_URI_PARAMS))})."
        )
    return uri


def uses_ssh(uri: str) -> bool:
    return urlsplit(uri).scheme.endswith("+ssh")


def classify(result: ProcessResult, secrets: Sequence[str], domain: str | None) -> PowerError:
    """The error a failed virsh run means, judged from its output."""
    output = scrub(result.output, secrets).strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    detail = " | ".join(lines[-3:]) or f"exit status {result.exit_code}"
    lowered = output.lower()
    message = f"virsh failed: {detail}"
    if any(phrase in lowered for phrase in _NO_DOMAIN):
        return PowerSettingError(f"There is no domain '{domain}'. {message}")
    if any(phrase in lowered for phrase in _AUTH_PHRASES):
        return PowerAuthError(f"The hypervisor refused the credentials. {message}")
    if "failed to connect" in lowered or "unable to connect" in lowered:
        if any(phrase in lowered for phrase in _SETTING_PHRASES):
            return PowerSettingError(message)
        return PowerConnError(message)
    if any(phrase in lowered for phrase in _CONN_PHRASES):
        return PowerConnError(message)
    return PowerActionError(message)


@attrs.frozen
class VirshMachine:
    """A domain behind a libvirt URI, as the probe needs it."""

    name: str
    uuid: str
    macs: tuple[str, ...]
    arch: str  # libvirt's (x86_64, aarch64...)
    architecture: str  # MAAS's (amd64/generic...)
    power_state: str  # on / off


def parse_domain_xml(xml: str | bytes, state: str = "") -> VirshMachine:
    """The probe's facts from ``virsh dumpxml`` output."""
    data = xml.encode() if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise PowerActionError(f"virsh dumpxml gave no XML: {error}") from None
    name = (root.findtext("name") or "").strip()
    uuid = (root.findtext("uuid") or "").strip()
    arch = root.find("os/type")
    arch_name = arch.get("arch", "") if arch is not None else ""
    macs = tuple(
        mac.get("address", "").lower()
        for mac in root.findall("devices/interface/mac")
        if mac.get("address")
    )
    return VirshMachine(
        name=name, uuid=uuid, macs=macs, arch=arch_name,
        architecture=ARCHITECTURES.get(arch_name, f"{arch_name or 'amd64'}/generic"),
        power_state=DOMAIN_STATES.get(state, "off"),
    )


class VirshPowerDriver(PowerDriver):
    """
    Power a libvirt domain with ``virsh``.

    :param virsh: path of virsh (default: looked up in ``PATH``).
    :param runner: runs a process (``power.process.run_process`` unless a test
        substitutes a fake).
    :param tempdir: where the private per-call directories (askpass helper) are made.
    """

    power_type = "virsh"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        virsh: str | None = None,
        runner: Runner = run_process,
        tempdir: str | None = None,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.virsh = virsh
        self.runner = runner
        self.tempdir = tempdir

    def _program(self) -> str:
        program = self.virsh or find_program("virsh")
        if program is None:
            raise PowerToolError("virsh is not installed (Debian package libvirt-clients).")
        return program

    def uri(self, params: Mapping[str, Any]) -> str:
        return check_uri(self.get_setting(params, "power_address") or DEFAULT_URI)

    def domain(self, params: Mapping[str, Any]) -> str:
        domain = self.get_setting(params, "power_id") or str(params.get("system_id") or "")
        if not domain:
            raise PowerSettingError("The power parameter power_id (Power ID) is not set.")
        if any(ord(char) < 32 or ord(char) == 127 for char in domain):
            raise PowerSettingError("power_id contains a control character.")
        return domain

    @asynccontextmanager
    async def _environment(self, uri: str, password: str) -> AsyncIterator[dict[str, str]]:
        """virsh's environment; with an askpass helper for ssh when there is a password."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LC_ALL": "C",
        }
        if not (password and uses_ssh(uri)):
            env["HOME"] = os.environ.get("HOME", "/")
            yield env
            return
        workdir = Path(tempfile.mkdtemp(prefix="maas-virsh-", dir=self.tempdir))
        try:
            write_private(workdir / "password", password + "\n")
            helper = workdir / "askpass"
            write_private(helper, ASKPASS)
            helper.chmod(0o700)
            env.update({
                "HOME": os.environ.get("HOME", str(workdir)),
                "SSH_ASKPASS": str(helper),
                "SSH_ASKPASS_REQUIRE": "force",
                "DISPLAY": os.environ.get("DISPLAY", ":0"),
            })
            yield env
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def run_virsh(
        self, uri: str, password: str, *command: str, domain: str | None = None
    ) -> str:
        """``virsh -c URI COMMAND...`` → its standard output; a power error if it fails."""
        argv = [self._program(), "--quiet", "-c", uri, *command]
        async with self._environment(uri, password) as env:
            result = await self.runner(self.reactor, argv, env=env, timeout=self.timeout)
        if not result.ok:
            raise classify(result, [password], domain)
        return scrub(result.stdout.decode("utf-8", errors="replace"), [password])

    async def domain_state(self, uri: str, password: str, domain: str) -> str:
        """virsh's word for the domain's state (``running``, ``shut off``...)."""
        output = await self.run_virsh(uri, password, "domstate", "--", domain, domain=domain)
        return output.strip().lower()

    async def power_query(self, params: Mapping[str, Any]) -> str:
        uri, domain = self.uri(params), self.domain(params)
        state = await self.domain_state(uri, self.get_setting(params, "power_pass"), domain)
        if state not in DOMAIN_STATES:
            raise PowerActionError(f"Domain '{domain}' is in an unknown state: '{state}'.")
        return DOMAIN_STATES[state]

    async def power_on(self, params: Mapping[str, Any]) -> None:
        uri, domain = self.uri(params), self.domain(params)
        password = self.get_setting(params, "power_pass")
        state = await self.domain_state(uri, password, domain)
        if DOMAIN_STATES.get(state) == "on":
            return
        command = _WAKE.get(state, "start")
        await self.run_virsh(uri, password, command, "--", domain, domain=domain)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        uri, domain = self.uri(params), self.domain(params)
        password = self.get_setting(params, "power_pass")
        state = await self.domain_state(uri, password, domain)
        if state == "shut off":
            return
        await self.run_virsh(uri, password, "destroy", "--", domain, domain=domain)

    async def machines(self, uri: str, password: str = "") -> list[VirshMachine]:
        """Every domain behind uri (defined or running), with its MACs and architecture."""
        uri = check_uri(uri or DEFAULT_URI)
        names = await self.run_virsh(uri, password, "list", "--all", "--name")
        found = []
        for name in (line.strip() for line in names.splitlines()):
            if not name:
                continue
            xml = await self.run_virsh(uri, password, "dumpxml", "--", name, domain=name)
            state = await self.domain_state(uri, password, name)
            found.append(parse_domain_xml(xml, state))
        return found


async def list_machines(
    reactor: Any,
    uri: str,
    password: str = "",
    *,
    timeout: float = 60.0,  # noqa: ASYNC109 (per virsh call, plus an overall bound)
    total_timeout: float = 600.0,
    clock: Any | None = None,
    **driver_options: Any,
) -> list[VirshMachine]:
    """
    The domains behind a libvirt URI, for ``probe_and_enlist_hardware``.

    Each virsh call is bounded by ``timeout`` and the whole listing by
    ``total_timeout``.  Errors are ``power.errors`` errors, secrets scrubbed.
    """
    driver = VirshPowerDriver(reactor, clock=clock, timeout=timeout, **driver_options)
    call = defer.Deferred.fromCoroutine(driver.machines(uri, password))
    call.addTimeout(total_timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        raise PowerConnError(f"Listing the domains took longer than {total_timeout:g} s.") \
            from None
