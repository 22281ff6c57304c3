"""
Test helpers for code on either side of the wire (importable by any test).

- :func:`call_responder` runs one responder through the command's real wire
  format, without a connection.
- :func:`connect_pair` / :func:`authenticated_pair` join two protocols in
  memory with ``twisted.test.iosim``; ``pump.flush()`` moves the bytes.
- :func:`commands_of` lists the commands a ``rpc.commands`` module declares.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.python.failure import Failure
from twisted.test import iosim

from rpc.arguments import check_box
from rpc.auth import authenticate_peer

S = TypeVar("S", bound=amp.AMP)
C = TypeVar("C", bound=amp.AMP)


def commands_of(module: ModuleType) -> list[type[amp.Command]]:
    """The commands a module lists in ``__all__`` (re-exports included)."""
    found = []
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, amp.Command):
            found.append(value)
    return found


def call_responder(
    locator: Any, command: type[amp.Command], arguments: dict[str, Any]
) -> Deferred[dict[str, Any]]:
    """
    Call locator's responder for command as if arguments had come over the wire.

    The arguments are serialised with the command's schema (and checked
    against the 64 KiB value limit), the responder answers a box, and the box
    is parsed back with the response schema.  A declared error comes back as
    its exception type, an ``UNKNOWN`` one as ``amp.UnknownRemoteError``; any
    other exception escapes as it is, for the test to see.

    An RPCProtocol's authentication gate applies as on a connection: open it
    first with ``protocol.authentication_finished(True)``.
    """
    try:
        command(**arguments)  # InvalidSignature names forgotten arguments
        box = command.makeArguments(arguments, locator)
        check_box(box)
    except Exception:
        return fail()
    responder = locator.locateResponder(command.commandName)
    if responder is None:
        return fail(amp.UnhandledCommand(f"{locator!r} has no responder for {command.__name__}"))

    def parse(answer: amp.AmpBox) -> dict[str, Any]:
        check_box(answer)
        parsed: dict[str, Any] = command.parseResponse(answer, locator)
        return parsed

    declared: dict[bytes, type[Exception]] = getattr(command, "reverseErrors", {})

    def unwrap(failure: Failure) -> Failure:
        error = failure.value
        if not isinstance(error, amp.RemoteAmpError):
            return failure
        error_type = declared.get(error.errorCode)
        if error_type is not None:
            return Failure(error_type(error.description))
        if error.errorCode == amp.UNKNOWN_ERROR_CODE:
            return Failure(amp.UnknownRemoteError(error.description))
        return failure

    return maybeDeferred(responder, box).addCallbacks(parse, unwrap)


def connect_pair(
    make_server: Callable[[], S],
    make_client: Callable[[], C],
    *,
    clock: Clock | None = None,
) -> tuple[C, S, iosim.IOPump]:
    """
    Connect a client and a server protocol in memory; return (client, server, pump).

    Nothing moves until ``pump.flush()`` is called; the pump advances clock (by
    nothing) on each pass so that ``callLater(0, ...)`` calls run.
    """
    return iosim.connectedServerAndClient(make_server, make_client, clock=clock or Clock())


def authenticated_pair(
    make_server: Callable[[], S],
    make_client: Callable[[], C],
    secret: bytes,
    *,
    clock: Clock | None = None,
) -> tuple[C, S, iosim.IOPump]:
    """As connect_pair, then run the handshake both ways (it must succeed)."""
    client, server, pump = connect_pair(make_server, make_client, clock=clock)
    server_side = Deferred.fromCoroutine(authenticate_peer(server, secret))  # type: ignore[arg-type]
    client_side = Deferred.fromCoroutine(authenticate_peer(client, secret))  # type: ignore[arg-type]
    pump.flush()
    for side in (server_side, client_side):
        results: list[Any] = []
        side.addBoth(results.append)
        if not results or isinstance(results[0], Failure):
            raise AssertionError(f"the handshake did not succeed: {results!r}")
    return client, server, pump
