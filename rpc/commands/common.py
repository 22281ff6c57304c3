"""
Commands that both the region and the cluster answer: the start of every
connection.  Neither is held back by the authentication gate of
:mod:`rpc.protocol`; see :mod:`rpc.auth` for the handshake itself.
"""

from __future__ import annotations

from twisted.protocols import amp

from rpc.commands.base import RPCCommand

__all__ = ["Authenticate", "Identify"]


class Identify(RPCCommand):
    """Ask the peer who it is: a cluster's UUID, or a region's event-loop name."""

    since = "1.5"
    timeout = 30.0
    arguments = []
    response = [(b"ident", amp.Unicode())]


class Authenticate(RPCCommand):
    """Challenge the peer to prove it knows the shared secret (HMAC-SHA256)."""

    since = "1.7"
    timeout = 30.0
    # message: 16 random bytes chosen by the caller.
    arguments = [(b"message", amp.String())]
    # digest = HMAC-SHA256(secret, message + salt); salt: 16 bytes chosen by the responder.
    response = [(b"digest", amp.String()), (b"salt", amp.String())]
