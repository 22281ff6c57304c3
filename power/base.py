"""
The power driver base class: a subclass says *how*, the base says *under what rules*.

A driver subclasses :class:`PowerDriver` and writes three coroutines,
``power_on``, ``power_off`` and ``power_query``, for one power type.  Callers
(the cluster's power service) use only :meth:`PowerDriver.on`,
:meth:`PowerDriver.off` and :meth:`PowerDriver.query`, which:

- check the parameters against the power type's schema (``power.registry``)
  and hand the driver the cleaned copy;
- bound the whole call with a timeout on the injected clock;
- turn whatever went wrong into one of the ``power.errors`` classes (fatal or
  retryable), with every secret value scrubbed out of the message;
- log one event when the call starts and one when it ends, with the
  parameters redacted.

What the base does *not* do: retry, or serialise actions per node.  Those are
the cluster's job (MAAS 1.8's ``rpc/power.py``: one change in flight per node,
a 5-minute overall deadline, waits of :data:`RETRY_WAITS` seconds).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar, TypeVar

from twisted.internet import defer
from twisted.internet.error import ConnectError
from twisted.logger import Logger
from twisted.python.failure import Failure

from power.errors import (
    PowerActionError,
    PowerConnError,
    PowerError,
    PowerNotSupportedError,
    PowerSettingError,
    PowerToolError,
    is_retryable,
)
from power.process import ProcessTimeout
from power.redact import scrub, secret_values
from power.registry import get_power_type, redact, secret_names
from power.schema import ParameterErrors

T = TypeVar("T")

#: Seconds the cluster waits between attempts at a power change (MAAS 1.8).
RETRY_WAITS: tuple[int, ...] = (1, 2, 2, 4, 6, 8, 12)

#: What a query may answer ("unknown": the device cannot tell, as 1.8 allowed).
POWER_STATES = frozenset({"on", "off", "unknown"})

__all__ = ["POWER_STATES", "RETRY_WAITS", "PowerDriver", "is_retryable"]


class PowerDriver(ABC):
    """
    Drive one kind of power device.

    :param reactor: what the driver does I/O with (processes, UDP, TCP), and
        the default clock.  Never the global reactor.
    :param clock: the IReactorTime the per-call timeout runs on.
    :param timeout: seconds one ``on``/``off``/``query`` may take in all.
    """

    #: The power type this driver implements (a name in ``power.registry``).
    power_type: ClassVar[str]
    #: Whether ``query`` can work at all (must match the registry).
    queryable: ClassVar[bool] = True
    #: Seconds a call may take unless the constructor says otherwise.
    default_timeout: ClassVar[float] = 60.0

    log = Logger()

    def __init__(
        self, reactor: Any, *, clock: Any | None = None, timeout: float | None = None
    ) -> None:
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.timeout = self.default_timeout if timeout is None else timeout

    # -- what subclasses write ------------------------------------------------

    @abstractmethod
    async def power_on(self, params: Mapping[str, Any]) -> None:
        """Switch the node on (for PXE-booting hardware: boot from the network once)."""

    @abstractmethod
    async def power_off(self, params: Mapping[str, Any]) -> None:
        """Switch the node off."""

    @abstractmethod
    async def power_query(self, params: Mapping[str, Any]) -> str:
        """Return "on" or "off" (or "unknown" if the device cannot tell)."""

    # -- helpers for subclasses -------------------------------------------------

    def get_setting(self, params: Mapping[str, Any], name: str) -> str:
        """The value of setting name, or its schema default when missing or empty."""
        value = params.get(name)
        if value not in (None, ""):
            return str(value)
        setting = get_power_type(self.power_type).setting(name)
        return setting.default if setting is not None else ""

    def require_setting(self, params: Mapping[str, Any], name: str) -> str:
        """The value of setting name; PowerSettingError if it is missing or empty."""
        value = self.get_setting(params, name)
        if value == "":
            setting = get_power_type(self.power_type).setting(name)
            label = f" ({setting.label})" if setting is not None else ""
            raise PowerSettingError(f"The power parameter {name}{label} is not set.")
        return value

    # -- what callers use -------------------------------------------------------

    async def on(self, params: Mapping[str, Any], *, system_id: str = "") -> None:
        """Power the node on, within the timeout; raises a ``power.errors`` error."""
        await self._call("on", self.power_on, params, system_id)

    async def off(self, params: Mapping[str, Any], *, system_id: str = "") -> None:
        """Power the node off, within the timeout; raises a ``power.errors`` error."""
        await self._call("off", self.power_off, params, system_id)

    async def query(self, params: Mapping[str, Any], *, system_id: str = "") -> str:
        """Return "on", "off" or "unknown", within the timeout."""
        if not self.queryable:
            raise PowerNotSupportedError(
                f"The power state of a {self.power_type} node cannot be queried."
            )
        return await self._call("query", self._checked_query, params, system_id)

    async def _checked_query(self, params: Mapping[str, Any]) -> str:
        state = await self.power_query(params)
        if state not in POWER_STATES:
            raise PowerActionError(f"The device reported an unexpected power state: {state!r}.")
        return state

    async def _call(
        self,
        action: str,
        method: Callable[[Mapping[str, Any]], Coroutine[Any, Any, T]],
        params: Mapping[str, Any],
        system_id: str,
    ) -> T:
        secrets = secret_values(params, secret_names(self.power_type))
        fields = {"action": action, "system_id": system_id, "power_type": self.power_type}
        self.log.debug(
            "Power {action} of {system_id} ({power_type}) with {params}",
            params=redact(self.power_type, params), **fields,
        )
        try:
            cleaned = get_power_type(self.power_type).clean(params)
            call = defer.Deferred.fromCoroutine(method(cleaned))
            call.addTimeout(self.timeout, self.clock)
            result: T = await call
        except defer.CancelledError:
            raise  # the caller cancelled us: not an error of ours to translate
        except Exception:
            failure = Failure()  # type: ignore[no-untyped-call]
            error = self._translate(failure, secrets, fields)
        else:
            # A query is routine (the power monitor sends thousands a minute): debug;
            # a change someone asked for: info.
            emit = self.log.debug if action == "query" else self.log.info
            emit(
                "Power {action} of {system_id} ({power_type}) done: {result}",
                result="ok" if result is None else result, **fields,
            )
            return result
        self.log.warn(
            "Power {action} of {system_id} ({power_type}) failed: {error}",
            error=str(error), error_type=type(error).__name__,
            retryable=is_retryable(error), **fields,
        )
        # Raised outside the except block: no __context__ chains the original
        # exception (and whatever secret its message held) to this one.
        raise error

    def _translate(
        self, failure: Failure, secrets: list[str], fields: Mapping[str, str]
    ) -> PowerError:
        """The ``power.errors`` error to raise for failure, with secrets scrubbed."""
        value = failure.value
        message = scrub(str(value), secrets)
        if isinstance(value, PowerError):
            return value.with_message(message)
        if isinstance(value, ParameterErrors):
            return PowerSettingError(message)
        if isinstance(value, defer.TimeoutError):
            return PowerConnError(f"Timed out after {self.timeout:g} seconds.")
        if isinstance(value, ProcessTimeout | ConnectError | OSError):
            return PowerConnError(message)
        if isinstance(value, NotImplementedError):
            return PowerNotSupportedError(message or f"Not supported by {self.power_type}.")
        self.log.error(
            "Power driver {power_type} crashed during {action} of {system_id}:\n{traceback}",
            traceback=scrub(failure.getTraceback(), secrets), **fields,
        )
        return PowerToolError(
            f"The {self.power_type} driver failed unexpectedly: {type(value).__name__}: {message}"
        )
