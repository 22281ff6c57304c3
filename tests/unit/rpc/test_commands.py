"""
Every command: documented, versioned, bounded in time, and round-tripping
through its real wire format (with call_responder, and over an in-memory
connection between two RPCProtocols).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from rpc.commands import cluster, common, region
from rpc.commands.base import DEFAULT_TIMEOUT, RPCCommand
from rpc.errors import RPCError, wire_name
from rpc.protocol import RPCProtocol
from rpc.testing import call_responder, commands_of, connect_pair
from tests.unit.rpc.examples import examples

MODULES = (common, region, cluster)
ALL_COMMANDS = sorted({c for m in MODULES for c in commands_of(m)}, key=lambda c: c.__name__)
#: Commands this project added on top of 1.8; every other one is 1.8's.
OURS = {"RegisterV2", "UpdateNodePowerStates"}
SINCE = re.compile(r"^1\.[5-8](\.\d+)?(\+mt\d+)?$")


def echo_locator(command: type[amp.Command], response: dict[str, Any]) -> tuple[Any, list[dict]]:
    """A CommandLocator answering command with response and recording what it got."""
    received: list[dict[str, Any]] = []

    def respond(self: Any, **kwargs: Any) -> dict[str, Any]:
        received.append(kwargs)
        return response

    command.responder(respond)
    locator_class = type(f"Echo{command.__name__}", (amp.CommandLocator,), {"respond": respond})
    return locator_class(), received


def echo_protocol(command: type[amp.Command], response: dict[str, Any]) -> tuple[type, list[dict]]:
    """An RPCProtocol subclass answering command with response."""
    received: list[dict[str, Any]] = []

    def respond(self: Any, **kwargs: Any) -> dict[str, Any]:
        received.append(kwargs)
        return response

    command.responder(respond)
    return type(f"Echo{command.__name__}", (RPCProtocol,), {"respond": respond}), received


@pytest.mark.parametrize("full", [True, False], ids=["with-optional", "without-optional"])
@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: c.__name__)
def test_round_trip_through_call_responder(command: type[RPCCommand], full: bool) -> None:
    """Arguments and response survive the command's wire format unchanged."""
    sent, expected = examples(command.arguments, full)
    response, expected_response = examples(command.response, full)
    locator, received = echo_locator(command, response)
    results: list[Any] = []
    call_responder(locator, command, sent).addBoth(results.append)
    assert received == [expected]
    assert results == [expected_response]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: c.__name__)
def test_round_trip_over_a_connection(command: type[RPCCommand]) -> None:
    """The same, between two RPCProtocols joined in memory by iosim."""
    sent, expected = examples(command.arguments)
    response, expected_response = examples(command.response)
    server_class, received = echo_protocol(command, response)
    client, server, pump = connect_pair(
        lambda: server_class(ident="server", secret=b"k"),
        lambda: RPCProtocol(ident="client", secret=b"k"),
    )
    server.authentication_finished(True)
    results: list[Any] = []
    client.callRemote(command, **sent).addBoth(results.append)
    pump.flush()
    assert received == [expected]
    assert results == [expected_response]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: c.__name__)
def test_command_is_documented_and_versioned(command: type[RPCCommand]) -> None:
    """Each command has its own docstring, `since`, timeout and errors (cf. 1.8's test_docs.py)."""
    doc = vars(command).get("__doc__") or ""
    assert doc.strip(), f"{command.__name__} has no docstring"
    assert doc.strip().splitlines()[0].endswith("."), "the first line is a sentence"
    since = vars(command).get("since")
    assert since is not None, f"{command.__name__} does not declare its own `since`"
    assert SINCE.match(since), f"{command.__name__}.since = {since!r}"
    assert ("+mt" in since) == (command.__name__ in OURS)
    assert command.deprecated is None or SINCE.match(command.deprecated)
    assert issubclass(command, RPCCommand)
    assert 0 < command.timeout <= DEFAULT_TIMEOUT
    assert isinstance(command.errors, dict)
    for error_type, code in command.allErrors.items():
        assert issubclass(error_type, Exception)
        assert code == wire_name(error_type), "wire names are the class names, as in 1.8"
        assert issubclass(error_type, RPCError) or error_type is NotImplementedError


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_lists_every_command(module: Any) -> None:
    """__all__ names every public command the module defines, so none escapes the tests."""
    defined = {
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, amp.Command)
        and value.__module__ == module.__name__ and not name.startswith("_")
    }
    assert defined <= set(module.__all__)


def test_command_names_are_class_names() -> None:
    """No command renames itself on the wire: commandName is the 1.8 class name."""
    for command in ALL_COMMANDS:
        assert command.commandName == command.__name__.encode("ascii")


def test_command_counts() -> None:
    """Region: 1.8's 21 commands + RegisterV2 + UpdateNodePowerStates; cluster: 1.8's 28;
    both: Identify, Authenticate."""
    common_names = {c.__name__ for c in commands_of(common)}
    assert common_names == {"Identify", "Authenticate"}
    assert len([c for c in commands_of(region) if c.__name__ not in common_names]) == 23
    assert len([c for c in commands_of(cluster) if c.__name__ not in common_names]) == 28


def test_timeouts_of_the_style_guide() -> None:
    """Power commands (and batched power states) wait 60 s, DHCP work 30 s, the handshake
    30 s, the rest 120 s."""
    assert region.UpdateNodePowerStates.timeout == 60.0
    for name in ("PowerOn", "PowerOff", "PowerQuery"):
        assert getattr(cluster, name).timeout == 60.0
    for name in ("ConfigureDHCPv4", "ConfigureDHCPv6", "CreateHostMaps", "RemoveHostMaps"):
        assert getattr(cluster, name).timeout == 30.0
    assert common.Identify.timeout == common.Authenticate.timeout == 30.0
    assert region.ListNodePowerParameters.timeout == DEFAULT_TIMEOUT


class TestRegistrationErrors(SynchronousTestCase):
    """PENDING/REJECTED reach Register's caller as CannotRegisterCluster, RegisterV2's exactly."""

    def register_with(self, command: type[RPCCommand], error: Exception) -> Any:
        class Region(RPCProtocol):
            @command.responder
            def register(self, **kwargs: Any) -> dict[str, Any]:
                raise error

        client, server, pump = connect_pair(
            lambda: Region(ident="region", secret=b"k"),
            lambda: RPCProtocol(ident="cluster", secret=b"k"),
            clock=Clock(),
        )
        server.authentication_finished(True)
        d = client.callRemote(command, uuid="c0ffee")
        pump.flush()
        return d

    def test_register_reports_pending_as_cannot_register(self) -> None:
        """A 1.8 Register caller sees CannotRegisterCluster, with the reason in its message."""
        from rpc.errors import CannotRegisterCluster, ClusterPending

        d = self.register_with(region.Register, ClusterPending("Cluster c0ffee awaits acceptance."))
        failure = self.failureResultOf(d, CannotRegisterCluster)
        self.assertIs(type(failure.value), CannotRegisterCluster)
        self.assertEqual(str(failure.value), "Cluster c0ffee awaits acceptance.")

    def test_register_v2_reports_rejection_as_cluster_rejected(self) -> None:
        """RegisterV2's caller gets ClusterRejected itself."""
        from rpc.errors import ClusterRejected

        d = self.register_with(region.RegisterV2, ClusterRejected("Cluster c0ffee was rejected."))
        self.assertIs(type(self.failureResultOf(d, ClusterRejected).value), ClusterRejected)

    def test_register_v2_answers_pending(self) -> None:
        """RegisterV2 can say PENDING (and ACCEPTED), but not REJECTED, as a status."""
        statuses = region.RegisterV2.response[0][1].choices
        status = region.ClusterStatus
        self.assertEqual(set(statuses), {status.ACCEPTED, status.PENDING})
