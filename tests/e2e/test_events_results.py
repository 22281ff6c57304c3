"""events op=query and the commissioning/installation results listing, over HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.test_nodes import enlist
from tests.maasclient import MAASClient, RegionProcess

pytestmark = pytest.mark.e2e


def status_changes(admin: MAASClient, sid: str, count: int) -> None:
    for _ in range(count):
        admin.post(f"nodes/{sid}/", "mark_broken")
        admin.post(f"nodes/{sid}/", "mark_fixed")


def test_paging_with_limit_and_after(admin: MAASClient) -> None:
    """limit bounds a page; next_uri/prev_uri carry after=start±limit and the filters."""
    sid = enlist(admin)["system_id"]
    status_changes(admin, sid, 3)  # 1 + 6 status changes
    first = admin.get("events/", "query", id=sid, limit=2).json()
    assert first["count"] == 2
    assert "id=" + sid in first["next_uri"] and "after=2" in first["next_uri"]
    everything = admin.get("events/", "query", id=sid).json()["events"]
    assert len(everything) == 7
    oldest_id = everything[-1]["id"]
    page = admin.get("events/", "query", id=sid, after=oldest_id, limit=3).json()
    assert [e["id"] for e in page["events"]] == [e["id"] for e in everything[-3:]]
    assert page["events"][0]["id"] > page["events"][-1]["id"]


def test_event_shape(admin: MAASClient) -> None:
    sid = enlist(admin)["system_id"]
    [event] = admin.get("events/", "query", id=sid).json()["events"]
    assert set(event) == {"node", "hostname", "id", "level", "created", "type", "description"}
    assert event["node"] == sid
    assert event["level"] == "INFO"
    assert event["type"] == "Node changed status"


@pytest.mark.parametrize(("params", "message"), [
    ({"level": "LOUD"}, "Unknown log level"),
    ({"limit": "1001"}, "greater than limit"),
    ({"mac_address": "nope"}, "Invalid MAC address"),
])
def test_bad_queries_are_400(admin: MAASClient, params: dict[str, str], message: str) -> None:
    response = admin.get("events/", "query", **params)
    assert response.status_code == 400
    assert message in response.text


def test_level_filters_out_lower_levels(admin: MAASClient) -> None:
    sid = enlist(admin)["system_id"]
    assert admin.get("events/", "query", id=sid, level="ERROR").json()["count"] == 0
    assert admin.get("events/", "query", id=sid, level="DEBUG").json()["count"] == 1


def test_results_listing_is_empty_before_commissioning(region: RegionProcess,
                                                       admin: MAASClient) -> None:
    """Both names of the results resource answer, filtered by node."""
    sid = enlist(admin)["system_id"]
    for path in ("installation-results/", "commissioning-results/"):
        response = admin.get(path, "list", system_id=sid)
        assert response.status_code == 200
        assert response.json() == []
