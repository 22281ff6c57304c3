"""
Run a child process from the reactor: an argv list, never a shell, always a deadline.

Power drivers use it for ``ipmipower``, ``ipmitool``, ``virsh`` and friends;
the region uses it for work that must not run in the reactor.  The child gets
standard input (for passwords that must not appear in argv), its output is
collected, and when the deadline passes it is sent SIGTERM and, after a grace
period, SIGKILL.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure


class ProcessTimeout(Exception):
    """The child ran past its deadline and was killed."""

    def __init__(self, argv0: str, timeout: float) -> None:
        super().__init__(f"{argv0} did not finish within {timeout:g} seconds")
        self.argv0 = argv0
        self.timeout = timeout


@attrs.frozen
class ProcessResult:
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _Collector(ProcessProtocol):
    def __init__(self, stdin: bytes | None, done: Deferred[ProcessResult]) -> None:
        self._stdin = stdin
        self._done = done
        self._out: list[bytes] = []
        self._err: list[bytes] = []

    def connectionMade(self) -> None:
        if self._stdin:
            self.transport.write(self._stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self._out.append(data)

    def errReceived(self, data: bytes) -> None:
        self._err.append(data)

    def processEnded(self, reason: Failure) -> None:
        value = reason.value
        exit_code: int | None = 0
        sig: int | None = None
        if isinstance(value, ProcessTerminated):
            exit_code = value.exitCode
            sig = value.signal
        elif not isinstance(value, ProcessDone):
            exit_code = None
        self._done.callback(ProcessResult(exit_code, sig, b"".join(self._out), b"".join(self._err)))


async def run_process(
    reactor: Any,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    kill_grace: float = 5.0,
) -> ProcessResult:
    """
    Run argv to completion and return what it printed and how it ended.

    :param reactor: provides ``spawnProcess`` and ``callLater``.
    :param stdin: bytes written to the child's standard input, which is then closed.
    :param env: the child's whole environment (default: ``PATH`` and ``LC_ALL=C``).
    :param timeout: seconds before the child is terminated; ProcessTimeout is raised.
    """
    if not argv:
        raise ValueError("empty argv")
    environment = dict(env) if env is not None else {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LC_ALL": "C",
    }
    done: Deferred[ProcessResult] = Deferred()
    protocol = _Collector(stdin, done)
    transport = reactor.spawnProcess(protocol, argv[0], list(argv), env=environment)
    timed_out = []

    def send(sig: int) -> None:
        try:
            transport.signalProcess("KILL" if sig == signal.SIGKILL else "TERM")
        except ProcessExitedAlready:
            pass

    def expire() -> None:
        timed_out.append(True)
        send(signal.SIGTERM)
        killer.append(reactor.callLater(kill_grace, send, signal.SIGKILL))

    killer: list[Any] = []
    deadline = reactor.callLater(timeout, expire)
    try:
        result = await done
    finally:
        if deadline.active():
            deadline.cancel()
        for call in killer:
            if call.active():
                call.cancel()
    if timed_out:
        raise ProcessTimeout(argv[0], timeout)
    return result
