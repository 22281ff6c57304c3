"""
What can go wrong when driving a power device, in two kinds.

*Fatal* errors (:class:`PowerFatalError` and its subclasses) will not go away by
trying again: the credentials are wrong, a setting is missing or malformed, the
tool is not installed, or the power type cannot do what was asked.  The cluster
reports them at once.  *Retryable* errors (:class:`PowerConnError`,
:class:`PowerActionError`) may: the device did not answer in time, or said no
this once.  The cluster retries those on its schedule (see ``power.base``).

Messages are written for the person reading the node's event log.  They never
contain a secret: the driver base class scrubs every secret value out of the
message before an error leaves a driver (``power.redact``).
"""

from __future__ import annotations


class PowerError(Exception):
    """A power action or query failed."""

    #: Whether the cluster may try the same action again.
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def with_message(self, message: str) -> PowerError:
        """The same kind of error with another message (used to scrub secrets)."""
        return type(self)(message)


class PowerFatalError(PowerError):
    """An error that trying again will not fix."""


class PowerAuthError(PowerFatalError):
    """The device refused the credentials (bad user or password, too little privilege)."""


class PowerSettingError(PowerFatalError):
    """A power parameter is missing or malformed."""


class PowerToolError(PowerFatalError):
    """The tool the driver needs is missing or broken, or the driver itself failed."""


class PowerNotSupportedError(PowerFatalError, NotImplementedError):
    """
    The power type cannot do this at all (Wake-on-LAN cannot power off or query).

    It is also a ``NotImplementedError``: that is the error MAAS 1.8 sends over
    AMP for a power type that cannot be queried.
    """


class PowerConnError(PowerError):
    """The device could not be reached, or did not answer in time."""

    retryable = True


class PowerActionError(PowerError):
    """The device answered, but the action failed."""

    retryable = True


def is_retryable(error: BaseException) -> bool:
    """True if the cluster may retry after ``error``; anything unknown is fatal."""
    return isinstance(error, PowerError) and error.retryable
