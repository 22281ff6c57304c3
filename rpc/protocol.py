"""
The AMP protocol both daemons speak: :class:`RPCProtocol`.

On top of ``amp.AMP`` it adds four things.

- **Bugs stay local and traceable.**  An exception a responder raises that its
  command does not declare goes back as a *non-fatal* ``UNKNOWN`` error whose
  description carries a reference ``host:pid=N:cmd=X:ask=N``; the same
  reference is logged here with the failure (``log.failure``), so the logs of
  both machines can be matched.  The connection stays up.
- **No unhandled failure drops the connection**: ``unhandledError`` logs.
- **Nothing too large is written**: every box is checked against AMP's
  64 KiB value limit first; a caller gets :class:`~rpc.errors.PayloadTooLarge`,
  a responder's oversized answer becomes a referenced error as above.
- **An authentication gate.**  Until the peer has proved it knows the shared
  secret (:func:`rpc.auth.authenticate_peer` on this protocol), every command
  but Identify and Authenticate is refused with
  :class:`~rpc.errors.NotAuthenticated`.  While that challenge is in flight,
  commands are *held* and answered (or refused) when it settles, so a cluster's
  Register racing the region's own challenge is not lost.  Start the challenge
  as soon as the connection is made, before awaiting anything else.

The protocol answers Identify (with ``ident``) and Authenticate (with
``secret``) itself; daemons subclass it and declare their other responders
with ``@Command.responder``.  Arguments are never logged (they may carry power
passwords and API tokens).
"""

from __future__ import annotations

import enum
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from rpc.arguments import check_box
from rpc.auth import answer_challenge
from rpc.commands.common import Authenticate, Identify
from rpc.errors import NotAuthenticated, PayloadTooLarge, wire_name

#: Longest error description sent to the peer, in characters.
MAX_DESCRIPTION = 4096


class AuthState(enum.Enum):
    """Where this side stands in authenticating its peer."""

    UNAUTHENTICATED = "unauthenticated"
    AUTHENTICATING = "authenticating"
    AUTHENTICATED = "authenticated"
    FAILED = "failed"


def default_name() -> str:
    """This process's name in references: ``<hostname>:pid=<pid>`` (1.8's event-loop name)."""
    return f"{socket.gethostname()}:pid={os.getpid()}"


def _truncated(text: str, limit: int = MAX_DESCRIPTION) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RPCProtocol(amp.AMP):
    """
    One end of a region-cluster connection.

    :param ident: what this side answers to Identify (a cluster's UUID, a
        region's event-loop name).
    :param secret: the shared secret, for answering Authenticate.
    :param name: this process in error references; defaults to
        :func:`default_name`.
    """

    log = Logger()

    #: Commands answered whatever the state of the gate.
    ungated = frozenset({Identify.commandName, Authenticate.commandName})

    def __init__(self, *, ident: str, secret: bytes, name: str | None = None) -> None:
        super().__init__()
        self.ident = ident
        self._secret = secret
        self.name = default_name() if name is None else name
        self.auth_state = AuthState.UNAUTHENTICATED
        self._held: list[Deferred[bool]] = []

    # -- The two commands every side answers ----------------------------------

    @Identify.responder
    def _identify(self) -> dict[str, str]:
        return {"ident": self.ident}

    @Authenticate.responder
    def _authenticate(self, message: bytes) -> dict[str, bytes]:
        return answer_challenge(self._secret, message)

    # -- The authentication gate ----------------------------------------------

    @property
    def peer_authenticated(self) -> bool:
        """True once the peer has proved it knows the shared secret."""
        return self.auth_state is AuthState.AUTHENTICATED

    def authentication_started(self) -> None:
        """A challenge to the peer is in flight: hold its commands until it settles."""
        self.auth_state = AuthState.AUTHENTICATING

    def authentication_finished(self, authenticated: bool) -> None:
        """The challenge settled: open the gate, or shut it; release held commands."""
        self.auth_state = AuthState.AUTHENTICATED if authenticated else AuthState.FAILED
        held, self._held = self._held, []
        for waiter in held:
            waiter.callback(authenticated)

    def locateResponder(self, name: bytes) -> Callable[[amp.AmpBox], Any] | None:
        responder: Callable[[amp.AmpBox], Any] | None = super().locateResponder(name)
        if responder is None or name in self.ungated or self.peer_authenticated:
            return responder
        return lambda box: self._gate(name, responder, box)

    def _gate(self, name: bytes, responder: Callable[[amp.AmpBox], Any], box: amp.AmpBox) -> Any:
        if self.auth_state is not AuthState.AUTHENTICATING:
            return fail(self._refusal(name))
        waiter: Deferred[bool] = Deferred()
        self._held.append(waiter)

        def settled(authenticated: bool) -> Any:
            return responder(box) if authenticated else fail(self._refusal(name))

        return waiter.addCallback(settled)

    def _refusal(self, name: bytes) -> amp.RemoteAmpError:
        command = name.decode("ascii", "replace")
        self.log.warn(
            "Refused {command} from {peer}: the peer is not authenticated ({state})",
            command=command,
            peer=self._peer(),
            state=self.auth_state.value,
        )
        return amp.RemoteAmpError(
            wire_name(NotAuthenticated),
            f"{command} refused: this connection's peer has not been authenticated",
        )

    # -- Failures: referenced, logged, never fatal ----------------------------

    def make_command_ref(self, command: bytes, ask: bytes) -> str:
        """The reference of one command received: ``host:pid=N:cmd=X:ask=N``."""
        return "{}:cmd={}:ask={}".format(
            self.name, command.decode("ascii", "replace"), ask.decode("ascii", "replace")
        )

    def dispatchCommand(self, box: amp.AmpBox) -> Deferred[amp.AmpBox]:
        command = box.get(amp.COMMAND, b"?")
        ask = box.get(amp.ASK, b"-")
        deferred: Deferred[amp.AmpBox] = super().dispatchCommand(box)
        deferred.addCallback(self._checked_answer)
        deferred.addErrback(self._remote_error, command, ask)
        return deferred

    @staticmethod
    def _checked_answer(answer: amp.AmpBox) -> amp.AmpBox:
        check_box(answer)
        return answer

    def _remote_error(self, failure: Failure, command: bytes, ask: bytes) -> Failure:
        error = failure.value
        if isinstance(error, amp.RemoteAmpError):
            description = error.description
            if isinstance(description, bytes):
                description = description.decode("utf-8", "replace")
            if len(description) <= MAX_DESCRIPTION:
                return failure
            shortened = _truncated(description)
            return Failure(amp.RemoteAmpError(error.errorCode, shortened, error.fatal, error.local))
        # BadLocalReturn's message holds the repr of the whole answer (secrets
        # included): log the failure it encloses instead.
        cause: Failure = error.enclosed if isinstance(error, amp.BadLocalReturn) else failure
        reference = self.make_command_ref(command, ask)
        self.log.failure(
            "Unhandled failure answering {command} [{reference}]",
            cause,
            command=command.decode("ascii", "replace"),
            reference=reference,
        )
        description = "{} while answering {} [{}]".format(
            type(cause.value).__name__, command.decode("ascii", "replace"), reference
        )
        return Failure(amp.RemoteAmpError(amp.UNKNOWN_ERROR_CODE, description, False, cause))

    def unhandledError(self, failure: Failure) -> None:
        """Log a failure nobody handled; unlike AMP, keep the connection."""
        self.log.failure(
            "Unhandled failure on the RPC connection to {peer}; the connection stays up",
            failure,
            peer=self._peer(),
        )

    # -- Size checks ----------------------------------------------------------

    def sendBox(self, box: amp.AmpBox) -> None:
        check_box(box)
        super().sendBox(box)

    def callRemote(self, commandType: type[amp.Command], *a: Any, **kw: Any) -> Any:
        """
        As AMP's, with two differences.  An argument that cannot be sent fails
        the Deferred (with PayloadTooLarge, named) instead of raising.  And the
        Deferred is a fresh one: AMP appends ``unhandledError`` to its own
        Deferred when the answer arrives, which would swallow an error whose
        errback the caller had not attached yet.
        """
        try:
            sent = super().callRemote(commandType, *a, **kw)
        except amp.TooLong as error:
            key = (error.keyName or b"?").decode("ascii", "replace")
            too_large = PayloadTooLarge(f"item value {key}", len(error.value), amp.MAX_VALUE_LENGTH)
            return fail(too_large)
        except struct.error:
            # amp.ListOf prefixes each element with a 16-bit length.
            return fail(PayloadTooLarge("list element", None, amp.MAX_VALUE_LENGTH))
        except Exception:
            return fail()
        if sent is None:  # requiresAnswer = False
            return None
        result: Deferred[Any] = Deferred()
        sent.addCallbacks(result.callback, result.errback)
        return result

    def _peer(self) -> object:
        transport: Any = self.transport
        return transport.getPeer() if transport is not None else None
