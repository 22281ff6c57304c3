"""run_process (power.process): output, deadline, TERM then KILL, cancellation; no real child."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from power.process import ProcessResult, ProcessTimeout, find_program, run_process


class FakeProcessTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.stdin_closed = False
        self.signals: list[str] = []
        self.exited = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def signalProcess(self, name: str) -> None:
        if self.exited:
            raise ProcessExitedAlready()
        self.signals.append(name)


class FakeProcessReactor(Clock):
    """spawnProcess that connects the protocol to a fake transport the test drives."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[dict[str, Any]] = []

    def spawnProcess(self, protocol: Any, executable: str, args: list[str],
                     env: dict[str, str]) -> FakeProcessTransport:
        transport = FakeProcessTransport()
        protocol.makeConnection(transport)
        self.spawned.append({"protocol": protocol, "transport": transport,
                             "executable": executable, "args": args, "env": env})
        return transport

    def end(self, reason: Exception) -> None:
        self.spawned[-1]["transport"].exited = True
        self.spawned[-1]["protocol"].processEnded(Failure(reason))


class TestRunProcess(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()

    def start(self, **kwargs: Any) -> Deferred[ProcessResult]:
        return Deferred.fromCoroutine(run_process(self.reactor, ["/bin/tool", "-x"], **kwargs))

    def test_collects_output_and_exit_code(self) -> None:
        """The result has stdout, stderr and the exit code; no timer is left."""
        d = self.start()
        protocol = self.reactor.spawned[0]["protocol"]
        protocol.outReceived(b"out")
        protocol.errReceived(b"err")
        self.reactor.end(ProcessTerminated(exitCode=2))
        result = self.successResultOf(d)
        self.assertEqual((result.exit_code, result.stdout, result.stderr), (2, b"out", b"err"))
        self.assertFalse(result.ok)
        self.assertEqual(result.output, "outerr")
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_argv_env_and_stdin(self) -> None:
        """argv is passed as a list, the default environment is minimal, stdin is closed."""
        d = self.start(stdin=b"secret\n")
        spawned = self.reactor.spawned[0]
        self.assertEqual(spawned["executable"], "/bin/tool")
        self.assertEqual(spawned["args"], ["/bin/tool", "-x"])
        self.assertEqual(set(spawned["env"]), {"PATH", "LC_ALL"})
        self.assertEqual(spawned["transport"].written, [b"secret\n"])
        self.assertTrue(spawned["transport"].stdin_closed)
        self.reactor.end(ProcessDone(0))
        self.assertTrue(self.successResultOf(d).ok)

    def test_deadline_terms_then_kills(self) -> None:
        """At the deadline the child gets TERM, after the grace KILL; ProcessTimeout is raised."""
        d = self.start(timeout=10, kill_grace=3)
        transport = self.reactor.spawned[0]["transport"]
        self.reactor.advance(10)
        self.assertEqual(transport.signals, ["TERM"])
        self.assertNoResult(d)
        self.reactor.advance(3)
        self.assertEqual(transport.signals, ["TERM", "KILL"])
        self.reactor.end(ProcessTerminated(signal=9))
        self.failureResultOf(d, ProcessTimeout)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_child_that_obeys_term_is_not_killed(self) -> None:
        """A child that exits on TERM gets no KILL and leaves no timer."""
        d = self.start(timeout=10, kill_grace=3)
        transport = self.reactor.spawned[0]["transport"]
        self.reactor.advance(10)
        self.reactor.end(ProcessTerminated(signal=15))
        self.failureResultOf(d, ProcessTimeout)
        self.reactor.advance(3)
        self.assertEqual(transport.signals, ["TERM"])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_cancel_terminates_the_child(self) -> None:
        """Cancelling the call raises CancelledError at once and still ends the child."""
        d = self.start(timeout=10, kill_grace=3)
        transport = self.reactor.spawned[0]["transport"]
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(transport.signals, ["TERM"])
        self.reactor.advance(3)
        self.assertEqual(transport.signals, ["TERM", "KILL"])
        self.reactor.end(ProcessTerminated(signal=9))  # late end is ignored quietly
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_empty_argv(self) -> None:
        """An empty argv is a programming error."""
        d = Deferred.fromCoroutine(run_process(self.reactor, []))
        self.failureResultOf(d, ValueError)


class TestFindProgram(SynchronousTestCase):
    def test_found_and_missing(self) -> None:
        """find_program searches the given path; a missing tool is None."""
        self.assertEqual(find_program("sh", "/bin"), "/bin/sh")
        self.assertIsNone(find_program("surely-not-installed-tool", "/bin"))
