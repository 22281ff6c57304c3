"""
The base class of every RPC command: what all commands share.

A command is plain data (``amp.Command`` class attributes).  On top of AMP's
``arguments``/``response``/``errors`` every command of ours declares:

- ``since``: the MAAS release that introduced it (``"1.7"``), or, for the few
  commands this project added, ``"1.8+mtN"`` (added on top of 1.8 by revision
  N of our contract);
- ``deprecated``: the release that superseded it, or ``None``;
- ``timeout``: seconds a caller waits at most (``rpc.client.RPCClient`` applies
  it; a caller may shorten it, never lengthen it).

``errors`` accumulates through the class hierarchy (AMP merges the dicts), so
this base declares :class:`~rpc.errors.NotAuthenticated`, which the gate of
:mod:`rpc.protocol` may answer to any command.  Declaring an extra error does
not change a command's wire format: a 1.8 peer would see an unknown error.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.protocols import amp

from rpc.arguments import Bytes
from rpc.errors import NotAuthenticated, wire_name

#: The timeout of a command that does not set its own, in seconds.
DEFAULT_TIMEOUT = 120.0


def declare(*exception_types: type[Exception]) -> dict[type[Exception], bytes]:
    """An ``errors`` mapping: each exception type under its 1.8 wire name."""
    return {exception_type: wire_name(exception_type) for exception_type in exception_types}


class RPCCommand(amp.Command):
    """Base of every command; not a command itself."""

    since: ClassVar[str]
    deprecated: ClassVar[str | None] = None
    timeout: ClassVar[float] = DEFAULT_TIMEOUT
    errors: ClassVar[dict[type[Exception], bytes]] = declare(NotAuthenticated)


def boot_sources(*, with_os: bool, optional: bool = False) -> amp.AmpList:
    """
    The schema of a list of boot sources, each with its selections.

    Shared by GetBootSources (without ``os``), GetBootSourcesV2 and
    ImportBootImages (with ``os``), whose wire formats are the same.
    """
    selection: list[tuple[bytes, amp.Argument]] = [(b"os", amp.Unicode())] if with_os else []
    selection += [
        (b"release", amp.Unicode()),
        (b"arches", amp.ListOf(amp.Unicode())),
        (b"subarches", amp.ListOf(amp.Unicode())),
        (b"labels", amp.ListOf(amp.Unicode())),
    ]
    return amp.AmpList(
        [
            (b"url", amp.Unicode()),
            (b"keyring_data", Bytes()),
            (b"selections", amp.AmpList(selection)),
        ],
        optional=optional,
    )
