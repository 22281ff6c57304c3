"""
SNMP GET and SET from the reactor: the one bridge between pysnmp 7 (asyncio) and Twisted.

pysnmp 7's ``pysnmp.hlapi.v3arch.asyncio`` is native asyncio.  The reactor
runs on asyncio (``--reactor=asyncio``, ``AsyncioSelectorReactor``), so a
pysnmp coroutine becomes a Deferred with ``Deferred.fromFuture(
asyncio.ensure_future(coro))`` (style.md §2.4) — done here, once, and
nowhere else.  Cancelling the Deferred (an outer ``addTimeout``) cancels the
asyncio task, whose ``finally`` closes the engine's UDP socket.

Every request is bounded by pysnmp's own retransmission (``timeout`` seconds
per try, ``retries`` extra tries: 2 s x 2 retries by default, style.md §2.6),
so a silent agent costs at most ``timeout x (retries + 1)`` seconds.

Failures are raised as ``power.errors``:

- no answer in time, or a name that does not resolve → :class:`PowerConnError`;
- the agent said ``noAccess`` / ``authorizationError`` → :class:`PowerAuthError`;
- ``noSuchName``, ``badValue``, ``readOnly``, ``wrongType`` and the other
  "you asked for something that cannot be" statuses, or ``noSuchObject`` /
  ``noSuchInstance`` values → :class:`PowerSettingError` (an SNMPv1 agent
  answers a SET through a read-only community with ``noSuchName``);
- ``genErr``, ``tooBig``, ``resourceUnavailable``, ``commitFailed`` and
  anything else → :class:`PowerActionError`.

The community string is a credential of sorts: it never appears in a message.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from power.address import NetworkAddress
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
    PowerToolError,
)

T = TypeVar("T")

#: Seconds per try and extra tries per request (style.md §2.6).
TIMEOUT = 2.0
RETRIES = 2
PORT = 161

#: SNMP error-status values (RFC 1157, RFC 3416) by number.
STATUS_NAMES = {
    1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr",
    6: "noAccess", 7: "wrongType", 8: "wrongLength", 9: "wrongEncoding",
    10: "wrongValue", 11: "noCreation", 12: "inconsistentValue",
    13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
    16: "authorizationError", 17: "notWritable", 18: "inconsistentName",
}
AUTH_STATUSES = frozenset({6, 16})
SETTING_STATUSES = frozenset({2, 3, 4, 7, 8, 9, 10, 11, 12, 17, 18})


def bridge(coro: Coroutine[Any, Any, T]) -> Deferred[T]:
    """
    Run an asyncio coroutine on the reactor's loop, as a Deferred.

    Cancelling the Deferred cancels the task; the asyncio ``CancelledError``
    the task then ends with becomes Twisted's, so ``addTimeout`` upstream sees
    its own cancellation and reports a timeout.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        raise PowerToolError(
            "SNMP needs Twisted's asyncio reactor (pysnmp 7 runs on asyncio).") from None
    deferred: Deferred[T] = Deferred.fromFuture(asyncio.ensure_future(coro))

    def translate(failure: Failure) -> Failure:
        if failure.check(asyncio.CancelledError):
            return Failure(CancelledError())  # type: ignore[no-untyped-call]
        return failure

    return deferred.addErrback(translate)


def _where(target: NetworkAddress) -> str:
    return str(NetworkAddress(target.host, target.port or PORT))


def status_error(status: int, oid: str, target: NetworkAddress) -> PowerError:
    """The power error an SNMP error-status means."""
    name = STATUS_NAMES.get(status, f"error-status {status}")
    message = f"The SNMP agent at {_where(target)} answered {name} for {oid}."
    if status in AUTH_STATUSES:
        return PowerAuthError(message)
    if status in SETTING_STATUSES:
        return PowerSettingError(
            message + " (Wrong outlet, or the community may not do this.)")
    return PowerActionError(message)


async def _request(
    kind: str,
    target: NetworkAddress,
    community: str,
    oid: str,
    value: int | None,
    *,
    version: int,
    timeout: float,  # noqa: ASYNC109 (pysnmp's per-try timeout)
    retries: int,
) -> int:
    # Imported here: pysnmp is heavy, and only SNMP drivers need it.
    from pysnmp.error import PySnmpError
    from pysnmp.hlapi.v3arch import asyncio as hlapi
    from pysnmp.proto import errind

    transport_class = hlapi.Udp6TransportTarget if target.is_ipv6 else hlapi.UdpTransportTarget
    try:
        transport = await transport_class.create(
            (target.host, target.port or PORT), timeout=timeout, retries=retries)
    except (PySnmpError, socket.gaierror) as error:
        raise PowerConnError(f"Cannot resolve {target.host}: {error}") from None
    engine = hlapi.SnmpEngine()
    try:
        auth = hlapi.CommunityData(community, mpModel=0 if version == 1 else 1)
        if kind == "set":
            var = hlapi.ObjectType(hlapi.ObjectIdentity(oid), hlapi.Integer(value))
            call = hlapi.set_cmd
        else:
            var = hlapi.ObjectType(hlapi.ObjectIdentity(oid))
            call = hlapi.get_cmd
        indication, status, _index, var_binds = await call(
            engine, auth, transport, hlapi.ContextData(), var, lookupMib=False)
    finally:
        engine.close_dispatcher()
    if indication:
        if isinstance(indication, errind.RequestTimedOut):
            raise PowerConnError(
                f"No SNMP response from {_where(target)} within "
                f"{timeout:g} s x {retries + 1} tries.")
        raise PowerActionError(f"SNMP {kind} to {_where(target)} failed: {indication}")
    if int(status):
        raise status_error(int(status), oid, target)
    if not var_binds:
        raise PowerActionError(f"The SNMP agent at {_where(target)} returned no value.")
    answer = var_binds[0][1]
    tag = type(answer).__name__
    if tag in ("NoSuchObject", "NoSuchInstance", "EndOfMibView"):
        raise PowerSettingError(f"The SNMP agent at {_where(target)} has no {oid} ({tag}).")
    try:
        return int(answer)
    except (TypeError, ValueError):
        raise PowerActionError(
            f"The SNMP agent at {_where(target)} returned a {tag} for {oid}, "
            f"not an integer.") from None


async def get_integer(
    target: NetworkAddress,
    community: str,
    oid: str,
    *,
    version: int = 1,
    timeout: float = TIMEOUT,  # noqa: ASYNC109 (pysnmp's per-try timeout)
    retries: int = RETRIES,
) -> int:
    """SNMP GET of one INTEGER object; raises a ``power.errors`` error."""
    return await bridge(_request("get", target, community, oid, None, version=version,
                                 timeout=timeout, retries=retries))


async def set_integer(
    target: NetworkAddress,
    community: str,
    oid: str,
    value: int,
    *,
    version: int = 1,
    timeout: float = TIMEOUT,  # noqa: ASYNC109 (pysnmp's per-try timeout)
    retries: int = RETRIES,
) -> int:
    """SNMP SET of one INTEGER object; returns the value the agent echoed."""
    return await bridge(_request("set", target, community, oid, value, version=version,
                                 timeout=timeout, retries=retries))
