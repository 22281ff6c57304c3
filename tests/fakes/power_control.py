"""A PowerControl for tests: records what it was asked, fails when told to."""

from __future__ import annotations

from region.api.errors import ServiceUnavailable
from region.db.nodes import Node


class RecordingPowerControl:
    """Same contract as region.nodeops.PowerControl; ``fail`` makes every call raise 503."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    async def power_on(self, node: Node) -> bool:
        self.calls.append(("on", node.system_id))
        if self.fail:
            raise ServiceUnavailable("Unable to connect to cluster master; no connections.")
        return True

    async def power_off(self, node: Node, mode: str = "hard") -> bool:
        self.calls.append(("off", node.system_id))
        if self.fail:
            raise ServiceUnavailable("Unable to connect to cluster master; no connections.")
        return True
