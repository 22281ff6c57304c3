"""
Where the power service gets a driver for a power type.

:class:`RegistryDrivers` asks ``power.registry`` for the driver class and
keeps one instance per power type (drivers hold no per-node state).  It
speaks the RPC contract's language: a type nobody knows is
``rpc.errors.UnknownPowerType``; a known type without a driver yet is a
``NotImplementedError`` (both are declared by PowerOn/PowerOff/PowerQuery).
"""

from __future__ import annotations

from typing import Any, Protocol

from power.base import PowerDriver
from power.registry import UnknownPowerType as UnknownTypeName
from power.registry import driver_class
from rpc.errors import UnknownPowerType

#: Seconds one driver call (on, off or query) may take.
DRIVER_TIMEOUT = 60.0


class DriverSource(Protocol):
    """Gives the driver for a power type, or raises as :class:`RegistryDrivers` does."""

    def driver_for(self, power_type: str) -> PowerDriver: ...


class RegistryDrivers:
    """
    Drivers from ``power.registry``, built on first use.

    :param reactor: what drivers do I/O with; also their clock unless ``clock``.
    :param timeout: seconds one driver call may take.
    """

    def __init__(self, reactor: Any, *, clock: Any | None = None,
                 timeout: float = DRIVER_TIMEOUT) -> None:
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.timeout = timeout
        self._drivers: dict[str, PowerDriver] = {}

    def driver_for(self, power_type: str) -> PowerDriver:
        found = self._drivers.get(power_type)
        if found is not None:
            return found
        if not power_type:
            raise UnknownPowerType("The node has no power type; set one before driving it.")
        try:
            cls = driver_class(power_type)
        except UnknownTypeName:
            raise UnknownPowerType(f"Unknown power type '{power_type}'.") from None
        except NotImplementedError as error:  # PowerNotSupportedError: no driver yet
            raise NotImplementedError(str(error)) from None
        driver: PowerDriver = cls(self.reactor, clock=self.clock, timeout=self.timeout)
        self._drivers[power_type] = driver
        return driver
