"""The driver template (power.base): timeouts, error mapping, logging without secrets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from power.base import RETRY_WAITS, PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerNotSupportedError,
    PowerSettingError,
    PowerToolError,
    is_retryable,
)
from power.process import ProcessTimeout

PASSWORD = "Sup3r-S3cret!"
PARAMS = {"power_address": "10.0.0.9", "power_user": "admin", "power_pass": PASSWORD}


class FakeDriver(PowerDriver):
    """An ipmi-typed driver whose actions the test scripts."""

    power_type = "ipmi"

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(None, clock=clock, **kwargs)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.cancelled: list[str] = []
        self.action: Callable[[], Any] = lambda: None
        self.pending: Deferred[Any] | None = None

    def hang(self) -> None:
        """Make the next action wait on a Deferred that only cancellation ends."""

        def wait() -> Deferred[Any]:
            self.pending = Deferred(lambda _: self.cancelled.append("cancelled"))
            return self.pending

        self.action = wait

    async def _act(self, name: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((name, dict(params)))
        result = self.action()
        if isinstance(result, Deferred):
            return await result
        return result

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._act("on", params)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._act("off", params)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        return str(await self._act("query", params))


def raising(error: BaseException) -> Callable[[], Any]:
    def act() -> Any:
        raise error

    return act


class TestPowerDriver(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.driver = FakeDriver(self.clock)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def call(self, method: str, params: Mapping[str, Any] = PARAMS) -> Deferred[Any]:
        return Deferred.fromCoroutine(getattr(self.driver, method)(params, system_id="node-1"))

    def fail_with(self, error: BaseException, method: str = "on") -> PowerError:
        self.driver.action = raising(error)
        failure = self.failureResultOf(self.call(method), PowerError)
        assert isinstance(failure.value, PowerError)
        return failure.value

    def assert_no_secret_logged(self) -> None:
        assert len(self.events) > 0
        for event in self.events:
            assert PASSWORD not in formatEvent(event), event
            assert PASSWORD not in repr(event), event

    def test_on_off_query_call_the_driver(self) -> None:
        """on/off/query run the subclass's methods with the parameters."""
        self.successResultOf(self.call("on"))
        self.successResultOf(self.call("off"))
        self.driver.action = lambda: "on"
        self.assertEqual(self.successResultOf(self.call("query")), "on")
        self.assertEqual([name for name, _ in self.driver.calls], ["on", "off", "query"])

    def test_driver_gets_cleaned_parameters(self) -> None:
        """Parameters are checked against the schema; extra keys reach the driver."""
        self.successResultOf(self.call("on", {**PARAMS, "power_address": " 10.0.0.9 ", "x": "1"}))
        self.assertEqual(self.driver.calls[0][1]["power_address"], "10.0.0.9")
        self.assertEqual(self.driver.calls[0][1]["x"], "1")

    def test_bad_parameters_are_a_setting_error(self) -> None:
        """A parameter the schema rejects fails fast with PowerSettingError."""
        d = self.call("on", {"power_driver": "LAN_9"})
        error = self.failureResultOf(d, PowerSettingError).value
        self.assertIn("power_driver", str(error))
        self.assertEqual(self.driver.calls, [])

    def test_timeout(self) -> None:
        """A call still running at the timeout fails with PowerConnError and is cancelled."""
        self.driver.hang()
        d = self.call("on")
        self.clock.advance(59)
        self.assertNoResult(d)
        self.clock.advance(1)
        error = self.failureResultOf(d, PowerConnError).value
        self.assertEqual(str(error), "Timed out after 60 seconds.")
        self.assertEqual(self.driver.cancelled, ["cancelled"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout_is_configurable(self) -> None:
        """The constructor's timeout bounds each call."""
        self.driver = FakeDriver(self.clock, timeout=5)
        self.driver.hang()
        d = self.call("query")
        self.clock.advance(5)
        self.failureResultOf(d, PowerConnError)

    def test_success_cancels_the_timer(self) -> None:
        """A call that finishes leaves no pending timer behind."""
        self.driver.hang()
        d = self.call("off")
        assert self.driver.pending is not None
        self.driver.pending.callback(None)
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_caller_cancellation_passes_through(self) -> None:
        """Cancelling a call cancels the driver's work and raises CancelledError."""
        self.driver.hang()
        d = self.call("on")
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.driver.cancelled, ["cancelled"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_power_errors_keep_their_class(self) -> None:
        """A driver's own power errors come out as the same class."""
        for error in (PowerAuthError("a"), PowerSettingError("s"), PowerConnError("c"),
                      PowerActionError("x"), PowerToolError("t")):
            self.assertIs(type(self.fail_with(error)), type(error))

    def test_exceptions_are_mapped(self) -> None:
        """Timeouts and socket errors are retryable; unsupported and bugs are fatal."""
        self.assertIsInstance(self.fail_with(ProcessTimeout("ipmipower", 3)), PowerConnError)
        self.assertIsInstance(self.fail_with(ConnectionRefusedError()), PowerConnError)
        self.assertIsInstance(self.fail_with(NotImplementedError()), PowerNotSupportedError)
        bug = self.fail_with(KeyError("oops"))
        self.assertIsInstance(bug, PowerToolError)
        self.assertIn("KeyError", str(bug))
        self.assertFalse(is_retryable(bug))

    def test_unexpected_query_answer(self) -> None:
        """A query answer other than on/off/unknown is a PowerActionError."""
        self.driver.action = lambda: "maybe"
        self.failureResultOf(self.call("query"), PowerActionError)
        self.driver.action = lambda: "unknown"
        self.assertEqual(self.successResultOf(self.call("query")), "unknown")

    def test_query_of_unqueryable_type(self) -> None:
        """query on a driver that cannot query is a fatal PowerNotSupportedError."""
        self.driver.queryable = False  # type: ignore[misc]
        self.failureResultOf(self.call("query"), PowerNotSupportedError)
        self.assertEqual(self.driver.calls, [])

    def test_no_secret_in_errors(self) -> None:
        """Error messages never carry the password, whatever the driver put in them."""
        for error in (PowerAuthError(f"bad password {PASSWORD}"),
                      OSError(f"socket {PASSWORD}"),
                      ValueError(f"bug {PASSWORD}")):
            raised = self.fail_with(error)
            self.assertNotIn(PASSWORD, str(raised))
            self.assertNotIn(PASSWORD, repr(raised.args))
            self.assertIsNone(raised.__cause__)
            self.assertIsNone(raised.__context__)

    def test_no_secret_in_log_events(self) -> None:
        """Rendered log events of successful and failed calls never contain the password."""
        self.successResultOf(self.call("on"))
        self.fail_with(PowerAuthError(f"BMC echoed {PASSWORD}"))
        self.fail_with(RuntimeError(f"crash with {PASSWORD}"))
        self.assert_no_secret_logged()
        texts = [formatEvent(event) for event in self.events]
        self.assertTrue(any("********" in text for text in texts))
        self.assertTrue(any("crashed" in text for text in texts))

    def test_log_events_have_fields(self) -> None:
        """Events carry action, system_id and power_type as fields."""
        self.successResultOf(self.call("off"))
        done = [e for e in self.events if e["log_format"].endswith("done: {result}")]
        self.assertEqual(len(done), 1)
        self.assertEqual(
            (done[0]["action"], done[0]["system_id"], done[0]["power_type"]),
            ("off", "node-1", "ipmi"),
        )

    def test_get_and_require_setting(self) -> None:
        """get_setting falls back to the schema default; require_setting insists."""
        self.assertEqual(self.driver.get_setting({}, "power_driver"), "LAN_2_0")
        self.assertEqual(self.driver.get_setting({"power_driver": "LAN"}, "power_driver"), "LAN")
        with self.assertRaises(PowerSettingError) as caught:
            self.driver.require_setting({"power_address": ""}, "power_address")
        self.assertIn("IP address", str(caught.exception))


class TestRetryHelpers(SynchronousTestCase):
    def test_schedule_is_18s(self) -> None:
        """The retry schedule is 1.8's (1, 2, 2, 4, 6, 8, 12) seconds."""
        self.assertEqual(RETRY_WAITS, (1, 2, 2, 4, 6, 8, 12))

    def test_retryable(self) -> None:
        """Connection and action errors are retryable; fatal ones and others are not."""
        self.assertTrue(is_retryable(PowerConnError("x")))
        self.assertTrue(is_retryable(PowerActionError("x")))
        for error in (PowerAuthError("x"), PowerSettingError("x"), PowerToolError("x"),
                      PowerNotSupportedError("x"), ValueError("x")):
            self.assertFalse(is_retryable(error))

    def test_not_supported_is_also_not_implemented(self) -> None:
        """PowerNotSupportedError is a NotImplementedError (1.8's AMP error)."""
        self.assertIsInstance(PowerNotSupportedError("x"), NotImplementedError)
