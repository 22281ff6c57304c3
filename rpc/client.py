"""
Calling a command on the peer, always with a deadline.

``await RPCClient(protocol, clock).call(PowerQuery, system_id=..., ...)``
waits at most ``PowerQuery.timeout`` seconds; a caller may ask for less
(``timeout=5``), never for more.  When the deadline passes the call fails with
``twisted.internet.defer.TimeoutError`` (a late answer is then ignored).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp

from rpc.commands.base import DEFAULT_TIMEOUT


def effective_timeout(command: type[amp.Command], timeout: float | None = None) -> float:
    """The deadline of a call: the command's timeout, or the caller's if shorter."""
    limit = float(getattr(command, "timeout", DEFAULT_TIMEOUT))
    if timeout is None:
        return limit
    if timeout <= 0:
        raise ValueError(f"a call's timeout must be positive, not {timeout!r}")
    return min(timeout, limit)


class RPCClient:
    """
    Calls commands on one connection's peer.

    :param protocol: the connection (an ``RPCProtocol``, or any ``amp.AMP``).
    :param clock: the clock deadlines are measured with.
    """

    log = Logger()

    def __init__(self, protocol: amp.AMP, clock: IReactorTime) -> None:
        self.protocol = protocol
        self.clock = clock

    # ASYNC109 is about asyncio/trio cancel scopes; here the timeout is the
    # Deferred's (addTimeout), which is the point of this method.
    async def call(
        self,
        command: type[amp.Command],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Call command with kwargs; return its response, or raise its error."""
        limit = effective_timeout(command, timeout)
        deferred: Deferred[dict[str, Any]] = self.protocol.callRemote(command, **kwargs)
        deferred.addTimeout(limit, self.clock)
        try:
            return await deferred
        except amp.UnknownRemoteError as error:
            # The peer logged this failure under the reference in the
            # description; log it here too so both logs can be matched.
            self.log.warn(
                "{command} failed on the peer: {description}",
                command=command.commandName.decode("ascii", "replace"),
                description=error.description,
            )
            raise
