"""AdvertiseService: refreshed every minute, failures logged and never fatal."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from region.db.pool import DatabaseUnavailable
from region.rpc.advertise import AdvertiseService


class RecordingTx:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    async def execute(self, sql: str, params: Any = None) -> int:
        self.log.append((" ".join(sql.split())[:30], params))
        return 1


class FlakyDatabase:
    """Fails the transactions listed in ``failures`` (by number), runs the others."""

    def __init__(self, failures: dict[int, Exception]) -> None:
        self.failures = failures
        self.attempts = 0
        self.statements: list[tuple[str, Any]] = []

    async def transaction(self, work: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        failure = self.failures.get(self.attempts)
        if failure is not None:
            raise failure
        return await work(RecordingTx(self.statements))


class TestAdvertiseService(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.clock = Clock()

    def service(self, db: FlakyDatabase) -> AdvertiseService:
        return AdvertiseService(db, self.clock, "host:pid=9", lambda: ("0.0.0.0", 5250),  # type: ignore[arg-type]
                                addresses=lambda host, port: [("10.0.0.1", port)])

    def test_advertises_at_start_and_every_minute(self) -> None:
        """The endpoints are written when the service starts, then every 60 s."""
        db = FlakyDatabase({})
        service = self.service(db)
        service.startService()
        self.assertEqual(db.attempts, 1)
        self.assertEqual(service.advertised, [("10.0.0.1", 5250)])
        self.clock.advance(60)
        self.assertEqual(db.attempts, 2)
        self.successResultOf(service.stopService())
        self.assertEqual(db.attempts, 3)  # the rows are withdrawn
        self.clock.advance(600)
        self.assertEqual(db.attempts, 3)

    def test_failures_are_logged_and_the_loop_goes_on(self) -> None:
        """A failed round is logged; the next round runs as usual."""
        db = FlakyDatabase({1: DatabaseUnavailable("down"), 2: RuntimeError("a bug")})
        service = self.service(db)
        service.startService()
        self.clock.advance(60)
        self.clock.advance(60)
        self.assertEqual(db.attempts, 3)
        self.assertEqual(service.advertised, [("10.0.0.1", 5250)])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        warnings = [e for e in self.events if "will retry" in e.get("log_format", "")]
        self.assertEqual(len(warnings), 2)
        self.successResultOf(service.stopService())

    def test_a_failed_withdrawal_does_not_fail_the_stop(self) -> None:
        """Stopping succeeds even when the rows cannot be removed (they go stale)."""
        db = FlakyDatabase({2: DatabaseUnavailable("down")})
        service = self.service(db)
        service.startService()
        self.successResultOf(service.stopService())
