"""The MAAS 1.8 node state machine.

The expected tables below are transcribed from the reference
(shared/reference/maas18.md §4.1, §4.4, §4.5, §3.1) as text, independently of
the module under test, and every ordered pair of statuses is checked.
"""

from __future__ import annotations

import itertools

import pytest

from region.domain.lifecycle import (
    ABORTABLE_STATUSES,
    ALLOWED_TRANSITIONS,
    COMMISSIONABLE_STATUSES,
    FAILURE_STATUS,
    RELEASABLE_STATUSES,
    SIGNALABLE_STATUSES,
    STATUS_DISPLAY,
    NodeStateViolation,
    NodeStatus,
    check_transition,
    deployment_status_label,
    display,
    failed_status,
    folded_status,
    is_allowed,
)

# §4.1: value, name, display.
SPEC_STATUSES = """
0 NEW New
1 COMMISSIONING Commissioning
2 FAILED_COMMISSIONING Failed commissioning
3 MISSING Missing
4 READY Ready
5 RESERVED Reserved
6 DEPLOYED Deployed
7 RETIRED Retired
8 BROKEN Broken
9 DEPLOYING Deploying
10 ALLOCATED Allocated
11 FAILED_DEPLOYMENT Failed deployment
12 RELEASING Releasing
13 FAILED_RELEASING Releasing failed
14 DISK_ERASING Disk erasing
15 FAILED_DISK_ERASING Failed disk erasing
"""

# §4.4, row by row ("-" is a new object).
SPEC_TRANSITIONS = """
- : NEW, MISSING, RETIRED
NEW : COMMISSIONING, MISSING, READY, RETIRED, BROKEN
COMMISSIONING : FAILED_COMMISSIONING, READY, RETIRED, MISSING, NEW, BROKEN
FAILED_COMMISSIONING : COMMISSIONING, MISSING, RETIRED, BROKEN
READY : COMMISSIONING, ALLOCATED, RESERVED, RETIRED, MISSING, BROKEN
RESERVED : READY, ALLOCATED, RETIRED, MISSING, BROKEN, DISK_ERASING, RELEASING
ALLOCATED : READY, RETIRED, MISSING, BROKEN, DEPLOYING, DISK_ERASING, RELEASING
RELEASING : READY, BROKEN, MISSING, FAILED_RELEASING
DEPLOYING : ALLOCATED, MISSING, BROKEN, FAILED_DEPLOYMENT, DEPLOYED, READY, DISK_ERASING, RELEASING
FAILED_DEPLOYMENT : ALLOCATED, MISSING, BROKEN, READY, DISK_ERASING, RELEASING
DEPLOYED : ALLOCATED, MISSING, BROKEN, READY, DISK_ERASING, RELEASING
MISSING : NEW, READY, ALLOCATED, COMMISSIONING, BROKEN
RETIRED : NEW, READY, MISSING, BROKEN
BROKEN : COMMISSIONING, READY, DISK_ERASING, RELEASING
FAILED_RELEASING : RELEASING, DISK_ERASING, READY, BROKEN
DISK_ERASING : BROKEN, DISK_ERASING, FAILED_DISK_ERASING, READY, RELEASING
FAILED_DISK_ERASING : DISK_ERASING, RELEASING, BROKEN, ALLOCATED, READY
"""


def _spec_statuses() -> list[tuple[int, str, str]]:
    rows = []
    for line in SPEC_STATUSES.strip().splitlines():
        value, name, label = line.split(" ", 2)
        rows.append((int(value), name, label))
    return rows


def _spec_transitions() -> dict[str | None, set[str]]:
    table: dict[str | None, set[str]] = {}
    for line in SPEC_TRANSITIONS.strip().splitlines():
        old, targets = (part.strip() for part in line.split(":"))
        table[None if old == "-" else old] = {t.strip() for t in targets.split(",")}
    return table


SPEC = _spec_transitions()
OLD_STATUSES: list[NodeStatus | None] = [None, *NodeStatus]
ALL_PAIRS = list(itertools.product(OLD_STATUSES, list(NodeStatus)))


def _name(status: NodeStatus | None) -> str:
    return "new-object" if status is None else status.name


@pytest.mark.parametrize(("value", "name", "label"), _spec_statuses())
def test_statuses_have_18_values_and_display_names(value: int, name: str, label: str) -> None:
    """Each of the 16 statuses has 1.8's value and display name."""
    assert NodeStatus[name] == value
    assert STATUS_DISPLAY[NodeStatus(value)] == label


def test_there_are_exactly_16_statuses() -> None:
    """No status is missing or extra."""
    assert sorted(int(s) for s in NodeStatus) == list(range(16))
    assert set(STATUS_DISPLAY) == set(NodeStatus)


def test_spec_table_covers_every_old_status() -> None:
    """The transcription has a row for a new object and for each status (guards the test)."""
    assert set(SPEC) == {None} | {s.name for s in NodeStatus}


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS,
                         ids=[f"{_name(o)}->{n.name}" for o, n in ALL_PAIRS])
def test_transition_allowed_iff_listed_or_unchanged(
        old: NodeStatus | None, new: NodeStatus) -> None:
    """A change is allowed exactly when §4.4 lists it; staying put is always allowed."""
    listed = new.name in SPEC[None if old is None else old.name]
    expected = listed or old == new
    assert is_allowed(old, new) is expected
    if expected:
        check_transition(old, new)
    else:
        with pytest.raises(NodeStateViolation) as raised:
            check_transition(old, new)
        old_label = "Unknown" if old is None else STATUS_DISPLAY[old]
        assert str(raised.value) == f"Invalid transition: {old_label} -> {STATUS_DISPLAY[new]}."


def test_allowed_transitions_table_matches_spec_exactly() -> None:
    """The exported table is §4.4, with no extra rows or targets."""
    assert {None if k is None else k.name: {v.name for v in vs}
            for k, vs in ALLOWED_TRANSITIONS.items()} == SPEC


def test_violation_message_uses_display_names() -> None:
    """The 409 text names statuses as people see them, 1.8's "Releasing failed" included."""
    with pytest.raises(NodeStateViolation, match=r"^Invalid transition: Releasing failed -> "
                                                 r"Deploying\.$"):
        check_transition(NodeStatus.FAILED_RELEASING, NodeStatus.DEPLOYING)


def test_new_object_must_start_new_missing_or_retired() -> None:
    """Creating a node straight into READY is refused, with "Unknown" as the old status."""
    with pytest.raises(NodeStateViolation, match=r"^Invalid transition: Unknown -> Ready\.$"):
        check_transition(None, NodeStatus.READY)


FOLDED = {"ALLOCATED", "DEPLOYING", "DEPLOYED", "FAILED_DEPLOYMENT", "RELEASING",
          "FAILED_RELEASING", "DISK_ERASING", "FAILED_DISK_ERASING"}


@pytest.mark.parametrize("status", list(NodeStatus), ids=lambda s: s.name)
def test_status_field_folds_deployment_statuses_to_6(status: NodeStatus) -> None:
    """§3.1: the 1.0 ``status`` field shows 6 for the eight deployment-ish statuses,
    the real value otherwise."""
    assert folded_status(status) == (6 if status.name in FOLDED else int(status))
    assert type(folded_status(status)) is int


def test_folded_status_accepts_plain_integers() -> None:
    """Database rows hold plain ints; folding takes them as they are."""
    assert folded_status(12) == 6
    assert folded_status(4) == 4


@pytest.mark.parametrize(("status", "target"), [
    ("COMMISSIONING", "FAILED_COMMISSIONING"),
    ("DEPLOYING", "FAILED_DEPLOYMENT"),
    ("RELEASING", "FAILED_RELEASING"),
    ("DISK_ERASING", "FAILED_DISK_ERASING"),
])
def test_mark_failed_moves_in_progress_statuses_to_their_failure(status: str, target: str) -> None:
    """§4.4's failure mapping, and every such move is itself an allowed transition."""
    assert failed_status(NodeStatus[status]) == NodeStatus[target]
    assert FAILURE_STATUS[NodeStatus[status]] == NodeStatus[target]
    assert is_allowed(NodeStatus[status], NodeStatus[target])


def test_failure_mapping_has_only_the_four_in_progress_statuses() -> None:
    """Nothing else has a failed counterpart."""
    assert {s.name for s in FAILURE_STATUS} == {
        "COMMISSIONING", "DEPLOYING", "RELEASING", "DISK_ERASING"}


@pytest.mark.parametrize("status", ["NEW", "FAILED_COMMISSIONING", "FAILED_DEPLOYMENT",
                                    "FAILED_RELEASING", "FAILED_DISK_ERASING"])
def test_mark_failed_ignores_new_and_already_failed_nodes(status: str) -> None:
    """Failing a NEW node, or one that failed already, is silently ignored (None)."""
    assert failed_status(NodeStatus[status]) is None


@pytest.mark.parametrize("status", ["READY", "ALLOCATED", "DEPLOYED", "BROKEN", "MISSING",
                                    "RETIRED", "RESERVED"])
def test_mark_failed_refuses_other_statuses(status: str) -> None:
    """Other statuses cannot fail; 1.8's message shows the numeric status."""
    value = int(NodeStatus[status])
    with pytest.raises(NodeStateViolation) as raised:
        failed_status(NodeStatus[status])
    assert str(raised.value) == (
        f"The status of the node is {value}; this status cannot be transitioned to a "
        f"corresponding failed status.")


@pytest.mark.parametrize(("statuses", "names"), [
    (RELEASABLE_STATUSES, {"ALLOCATED", "RESERVED", "BROKEN", "DEPLOYING", "DEPLOYED",
                           "FAILED_DEPLOYMENT", "FAILED_DISK_ERASING", "FAILED_RELEASING"}),
    (SIGNALABLE_STATUSES, {"BROKEN", "COMMISSIONING", "FAILED_COMMISSIONING", "DEPLOYING",
                           "FAILED_DEPLOYMENT", "READY", "DISK_ERASING"}),
    (ABORTABLE_STATUSES, {"DISK_ERASING", "COMMISSIONING", "DEPLOYING"}),
    (COMMISSIONABLE_STATUSES, {"NEW", "FAILED_COMMISSIONING", "READY", "BROKEN"}),
], ids=["releasable", "signalable", "abortable", "commissionable"])
def test_operation_status_sets_match_18(statuses: frozenset[NodeStatus], names: set[str]) -> None:
    """The statuses each operation is valid in (§4.4, §4.5)."""
    assert {s.name for s in statuses} == names


def test_releasable_statuses_can_all_move_to_releasing_or_disk_erasing() -> None:
    """Release ends in RELEASING or DISK_ERASING, and the state machine allows both."""
    for status in RELEASABLE_STATUSES:
        assert is_allowed(status, NodeStatus.RELEASING)
        assert is_allowed(status, NodeStatus.DISK_ERASING)


def test_commissionable_statuses_can_all_start_commissioning() -> None:
    """Commissioning can start from every status the commission action accepts."""
    for status in COMMISSIONABLE_STATUSES:
        assert is_allowed(status, NodeStatus.COMMISSIONING)


@pytest.mark.parametrize("status", list(NodeStatus), ids=lambda s: s.name)
def test_deployment_status_labels(status: NodeStatus) -> None:
    """``nodes op=deployment_status``: three statuses have their own label, the rest
    are "Not in deployment"."""
    expected = {"DEPLOYED": "Deployed", "DEPLOYING": "Deploying",
                "FAILED_DEPLOYMENT": "Failed deployment"}.get(status.name, "Not in deployment")
    assert deployment_status_label(status) == expected
    assert deployment_status_label(int(status)) == expected


def test_display_of_unknown_values() -> None:
    """None and out-of-range values display as "Unknown" rather than failing."""
    assert display(None) == "Unknown"
    assert display(99) == "Unknown"
    assert display(13) == "Releasing failed"
