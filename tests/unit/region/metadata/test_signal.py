"""Reading a node's signal, and 1.8's table of what a signal does."""

from __future__ import annotations

import pytest

from region.api.errors import BadRequest
from region.api.params import Params, UploadedFile
from region.db.results import COMMISSIONING, INSTALLATION
from region.domain.lifecycle import NodeStatus
from region.metadata.signal import (
    ERASE_FAILED,
    INSTALLATION_FAILED,
    Action,
    Decision,
    ResultFile,
    decide,
    parse_signal,
)


def params(*items: tuple[str, str], files: tuple[UploadedFile, ...] = ()) -> Params:
    return Params(items, files)


def test_signal_reads_status_result_error_and_files() -> None:
    """A multipart signal yields its status, script_result, error and result files."""
    signal = parse_signal(params(
        ("op", "signal"), ("status", "WORKING"), ("script_result", "3"), ("error", "oops"),
        files=(UploadedFile("00-maas-01-lshw.out", "00-maas-01-lshw.out", b"<list/>"),)))
    assert signal.status == "WORKING"
    assert signal.script_result == 3
    assert signal.error == "oops"
    assert signal.files == (ResultFile("00-maas-01-lshw.out", b"<list/>"),)
    assert signal.power_type is None


def test_signal_defaults() -> None:
    """script_result defaults to 0 and error to empty."""
    signal = parse_signal(params(("status", "OK")))
    assert (signal.script_result, signal.error, signal.files) == (0, "", ())


@pytest.mark.parametrize("items", [
    (), (("status", ""),), (("status", "DONE"),), (("status", "ok"),),
    (("status", "OK"), ("script_result", "x")),
    (("status", "OK"), ("script_result", str(2**40))),
    (("status", "OK"), ("power_type", "ipmi"), ("power_parameters", "{not json")),
    (("status", "OK"), ("power_type", "ipmi"), ("power_parameters", "[1]")),
])
def test_bad_signals_are_400(items: tuple[tuple[str, str], ...]) -> None:
    """A missing or unknown status, a non-integer script_result or bad power JSON is a 400."""
    with pytest.raises(BadRequest):
        parse_signal(params(*items))


def test_power_settings_are_read_as_json() -> None:
    """power_parameters is a JSON object sent along with power_type."""
    signal = parse_signal(params(("status", "WORKING"), ("power_type", "ipmi"),
                                 ("power_parameters", '{"power_address": "10.0.0.9"}')))
    assert signal.power_type == "ipmi"
    assert signal.power_parameters == {"power_address": "10.0.0.9"}


@pytest.mark.parametrize(("signalled", "target"), [
    ("OK", NodeStatus.READY), ("FAILED", NodeStatus.FAILED_COMMISSIONING), ("WORKING", None)])
def test_commissioning_signals(signalled: str, target: NodeStatus | None) -> None:
    """While commissioning, results are stored with hooks; OK → READY, FAILED → failed."""
    assert decide(NodeStatus.COMMISSIONING, signalled) == Decision(
        Action.COMMISSION, target=target, store_as=COMMISSIONING)


@pytest.mark.parametrize(("signalled", "failure"), [
    ("OK", None), ("WORKING", None), ("FAILED", INSTALLATION_FAILED)])
def test_deploying_signals(signalled: str, failure: str | None) -> None:
    """While deploying, results are stored as installation results; FAILED marks it failed."""
    assert decide(NodeStatus.DEPLOYING, signalled) == Decision(
        Action.INSTALL, failure=failure, store_as=INSTALLATION)


def test_disk_erasing_signals() -> None:
    """While erasing disks, OK releases the node and FAILED marks it failed."""
    assert decide(NodeStatus.DISK_ERASING, "OK") == Decision(Action.ERASE, release=True)
    assert decide(NodeStatus.DISK_ERASING, "FAILED") == Decision(
        Action.ERASE, failure=ERASE_FAILED)
    assert decide(NodeStatus.DISK_ERASING, "WORKING") == Decision(Action.ERASE)


@pytest.mark.parametrize("status", [
    NodeStatus.BROKEN, NodeStatus.READY, NodeStatus.FAILED_COMMISSIONING,
    NodeStatus.FAILED_DEPLOYMENT])
def test_signals_to_settled_nodes_are_ignored(status: NodeStatus) -> None:
    """Signalable but settled nodes (BROKEN, READY, failed) accept and ignore signals."""
    for signalled in ("OK", "FAILED", "WORKING"):
        assert decide(status, signalled) == Decision(Action.IGNORE)


@pytest.mark.parametrize("status", [
    NodeStatus.NEW, NodeStatus.ALLOCATED, NodeStatus.DEPLOYED, NodeStatus.RELEASING,
    NodeStatus.RETIRED, NodeStatus.MISSING, NodeStatus.RESERVED])
def test_other_statuses_refuse_signals(status: NodeStatus) -> None:
    """Nodes in any other status refuse signals (409)."""
    assert decide(status, "OK") == Decision(Action.REFUSE)
