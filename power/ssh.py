"""
Run one command over SSH (Twisted Conch), bounded in time and output, with a password.

For power devices with an SSH command line (the HP Moonshot chassis manager
of the ``mscm`` driver): connect (``connect_timeout``), check the host key,
log in with the password (``password``, or ``keyboard-interactive`` answering
each hidden prompt with it), open one ``session`` channel, ``exec`` the
command, collect its output up to ``max_output`` bytes and its exit status.
The whole exchange is bounded by ``timeout``; cancelling or timing out closes
the connection.

Host keys, policy **accept-new** (OpenSSH's ``StrictHostKeyChecking
accept-new``, and what MAAS 1.8 did with paramiko's ``AutoAddPolicy`` except
that 1.8 also accepted a *changed* key): the first key a device shows is
remembered (in memory, and in ``HostKeys(path)`` when a path is given, one
``host:port keytype base64`` line per device); a different key later is
refused with :class:`PowerAuthError` ("host key changed"), which an
administrator clears by deleting that line.  Chassis managers are installed
and re-keyed by hand and have no certificates, so trust on first use is the
practical choice; it is logged with the key's fingerprint.

Errors: cannot connect, connection lost, timeout → :class:`PowerConnError`;
password refused, no password method, changed host key →
:class:`PowerAuthError`; the server refusing the channel or the command →
:class:`PowerActionError`.  The password never appears in a message.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from twisted.conch.ssh import common, connection, keys, transport, userauth
from twisted.conch.ssh.channel import SSHChannel
from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectingCancelledError
from twisted.internet.protocol import ClientFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from power.address import NetworkAddress
from power.endpoints import client_endpoint
from power.errors import PowerActionError, PowerAuthError, PowerConnError, PowerError

log = Logger()

SSH_PORT = 22
MAX_OUTPUT = 1024 * 1024


@attrs.frozen
class SSHResult:
    exit_status: int | None
    stdout: bytes
    stderr: bytes

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).decode("utf-8", errors="replace")


class HostKeys:
    """Known host keys with the accept-new policy (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.known: dict[str, tuple[str, str]] = {}
        if self.path is not None and self.path.exists():
            for line in self.path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 3 and not line.startswith("#"):
                    self.known[parts[0]] = (parts[1], parts[2])

    def check(self, host_id: str, blob: bytes) -> None:
        """Accept (and remember) a new key; PowerAuthError if it differs from the known one."""
        key = keys.Key.fromString(blob)
        key_type = key.sshType().decode()
        encoded = base64.b64encode(blob).decode()
        fingerprint = key.fingerprint(keys.FingerprintFormats.SHA256_BASE64)
        known = self.known.get(host_id)
        if known == (key_type, encoded):
            return
        if known is not None:
            raise PowerAuthError(
                f"The SSH host key of {host_id} has changed (now {key_type} {fingerprint}); "
                f"if that is expected, remove its entry from the known host keys."
            )
        log.info("Accepting the SSH host key of {host} on first use: {type} {fingerprint}",
                 host=host_id, type=key_type, fingerprint=fingerprint)
        self.known[host_id] = (key_type, encoded)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:  # a few bytes, rarely
                handle.write(f"{host_id} {key_type} {encoded}\n")


class _Session:
    """The state of one command run: what stage it reached, what it produced."""

    def __init__(self, host_id: str, username: str, password: str, command: str,
                 host_keys: HostKeys, max_output: int) -> None:
        self.host_id = host_id
        self.username = username
        self.password = password
        self.command = command
        self.host_keys = host_keys
        self.max_output = max_output
        self.stage = "connect"
        self.password_tried = False
        self.error: PowerError | None = None
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        self.size = 0
        self.exit_status: int | None = None
        self.transport: Any = None
        self.done: defer.Deferred[SSHResult] = defer.Deferred(lambda _: self.abort())

    def abort(self) -> None:
        if self.transport is not None and self.transport.transport is not None:
            self.transport.transport.abortConnection()

    def fail(self, error: PowerError) -> None:
        if self.error is None:
            self.error = error
        self.abort()

    def add(self, chunks: list[bytes], data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_output:
            self.fail(PowerActionError(
                f"{self.host_id} sent more than {self.max_output} bytes of output."))
            return
        chunks.append(data)

    def finish(self) -> None:
        if not self.done.called:
            self.done.callback(SSHResult(self.exit_status, b"".join(self.stdout),
                                         b"".join(self.stderr)))

    def lost(self, reason: Failure) -> None:
        if self.done.called:
            return
        error = self.error
        if error is None:
            if self.stage == "auth":
                error = PowerAuthError(
                    f"{self.host_id} refused the password for user '{self.username}'."
                    if self.password_tried else
                    f"{self.host_id} offers no password login for user '{self.username}'.")
            elif self.stage in ("connect", "kex"):
                error = PowerConnError(
                    f"The SSH connection to {self.host_id} closed during the key exchange.")
            else:
                error = PowerConnError(
                    f"The SSH connection to {self.host_id} closed before the command ended.")
        self.done.errback(error)


class _Transport(transport.SSHClientTransport):
    def __init__(self, session: _Session) -> None:
        self.session = session

    def connectionMade(self) -> None:
        self.session.stage = "kex"
        self.session.transport = self
        super().connectionMade()

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> defer.Deferred[bool]:
        try:
            self.session.host_keys.check(self.session.host_id, hostKey)
        except PowerError as error:
            self.session.error = error
            return defer.fail(error)
        return defer.succeed(True)

    def connectionSecure(self) -> None:
        self.session.stage = "auth"
        self.requestService(_UserAuth(self.session, _Connection(self.session)))

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        super().connectionLost(reason)
        self.session.lost(reason)


class _UserAuth(userauth.SSHUserAuthClient):
    preferredOrder = [b"password", b"keyboard-interactive"]

    def __init__(self, session: _Session, instance: Any) -> None:
        super().__init__(session.username.encode("utf-8"), instance)
        self.session = session
        self.tries = 0

    def getPassword(self, prompt: bytes | None = None) -> Any:
        if self.tries or not self.session.password:
            return None
        self.tries += 1
        self.session.password_tried = True
        return defer.succeed(self.session.password.encode("utf-8"))

    def getGenericAnswers(self, name: bytes, instruction: bytes, prompts: list[Any]) -> Any:
        if self.tries > 1 or not self.session.password:
            return defer.fail(PowerAuthError("keyboard-interactive login failed"))
        self.tries += 1
        self.session.password_tried = True
        return defer.succeed([
            self.session.password if not echo else "" for _, echo in prompts])

    def getPublicKey(self) -> None:
        return None

    def ssh_USERAUTH_SUCCESS(self, packet: bytes) -> None:
        self.session.stage = "session"
        super().ssh_USERAUTH_SUCCESS(packet)


class _Connection(connection.SSHConnection):
    def __init__(self, session: _Session) -> None:
        super().__init__()
        self.session = session

    def serviceStarted(self) -> None:
        super().serviceStarted()
        self.openChannel(_Exec(self.session, conn=self))


class _Exec(SSHChannel):
    name = b"session"

    def __init__(self, session: _Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def openFailed(self, reason: Any) -> None:
        self.session.fail(PowerActionError(
            f"{self.session.host_id} refused an SSH session channel: {reason}"))

    def channelOpen(self, specificData: bytes) -> None:
        d = self.conn.sendRequest(self, b"exec", common.NS(self.session.command.encode()),
                                  wantReply=True)
        d.addCallback(lambda _: self.conn.sendEOF(self))
        d.addErrback(lambda _: self.session.fail(PowerActionError(
            f"{self.session.host_id} refused to run a command over SSH.")))

    def dataReceived(self, data: bytes) -> None:
        self.session.add(self.session.stdout, data)

    def extReceived(self, dataType: int, data: bytes) -> None:
        self.session.add(self.session.stderr, data)

    def request_exit_status(self, data: bytes) -> int:
        (self.session.exit_status,) = struct.unpack(">L", data[:4])
        return 1

    def closed(self) -> None:
        self.session.finish()
        self.conn.transport.loseConnection()


class _Factory(ClientFactory):
    def __init__(self, make: Callable[[], _Transport]) -> None:
        self.make = make

    def buildProtocol(self, addr: Any) -> _Transport:
        protocol = self.make()
        protocol.factory = self
        return protocol


async def run_command(
    reactor: Any,
    address: NetworkAddress,
    username: str,
    password: str,
    command: str,
    *,
    host_keys: HostKeys,
    timeout: float = 60.0,  # noqa: ASYNC109 (enforced with addTimeout)
    connect_timeout: float = 10.0,
    max_output: int = MAX_OUTPUT,
    clock: Any | None = None,
) -> SSHResult:
    """Run command on address (port 22 unless given) and return its output and exit status."""
    port = address.port or SSH_PORT
    host_id = f"{address.host}:{port}" if not address.is_ipv6 else f"[{address.host}]:{port}"
    session = _Session(host_id, username, password, command, host_keys, max_output)
    endpoint = client_endpoint(reactor, address.host, port, timeout=connect_timeout)

    async def go() -> SSHResult:
        try:
            await endpoint.connect(_Factory(lambda: _Transport(session)))
        except (defer.CancelledError, ConnectingCancelledError):
            raise defer.CancelledError() from None
        except Exception as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if isinstance(error, ConnectError) and error.osError is None and "timeout" in \
                    type(error).__name__.lower():
                reason = f"no answer within {connect_timeout:g} seconds"
            raise PowerConnError(f"Cannot connect to {host_id} ({reason}).") from None
        return await session.done

    call = defer.Deferred.fromCoroutine(go())
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        session.abort()
        raise PowerConnError(
            f"{host_id} did not finish '{command}' within {timeout:g} seconds.") from None
