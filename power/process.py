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
import shutil
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

    @property
    def output(self) -> str:
        """Standard output then standard error, decoded leniently."""
        return (self.stdout + self.stderr).decode("utf-8", errors="replace")


#: Where administration tools live, searched after the caller's PATH.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_program(name: str, path: str | None = None) -> str | None:
    """
    The absolute path of program name, or None if it is not installed.

    :param path: the directories to search (``os.pathsep``-separated); by
        default ``PATH`` followed by the sbin directories, where most power
        tools live but which a service's ``PATH`` often lacks.
    """
    if path is None:
        path = os.pathsep.join([os.environ.get("PATH", "/usr/bin:/bin"), *SBIN_DIRS])
    return shutil.which(name, path=path)


class _Collector(ProcessProtocol):
    """
    Collects the child's output, and ends it: TERM, then KILL after a grace period.

    ``done`` fires with the ProcessResult.  Cancelling ``done`` (which is what
    cancelling an ``await run_process(...)`` does) terminates the child too, so
    a caller's own timeout never leaves a process behind.
    """

    def __init__(self, stdin: bytes | None, clock: Any, kill_grace: float) -> None:
        self._stdin = stdin
        self._clock = clock
        self._kill_grace = kill_grace
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._killer: Any = None
        self._ended = False
        self.done: Deferred[ProcessResult] = Deferred(canceller=lambda _: self.terminate())

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self._stdin:
            self.transport.write(self._stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self._out.append(data)

    def errReceived(self, data: bytes) -> None:
        self._err.append(data)

    def terminate(self) -> None:
        """Send SIGTERM now and SIGKILL after the grace period, unless the child ends."""
        if self._ended or self.transport is None:
            return
        self._signal("TERM")
        if self._killer is None:
            self._killer = self._clock.callLater(self._kill_grace, self._signal, "KILL")

    def _signal(self, name: str) -> None:
        assert self.transport is not None
        try:
            self.transport.signalProcess(name)
        except ProcessExitedAlready:
            pass

    def processEnded(self, reason: Failure) -> None:
        self._ended = True
        if self._killer is not None and self._killer.active():
            self._killer.cancel()
        value = reason.value
        exit_code: int | None = 0
        sig: int | None = None
        if isinstance(value, ProcessTerminated):
            exit_code = value.exitCode
            sig = value.signal
        elif not isinstance(value, ProcessDone):
            exit_code = None
        if self.done.called:  # the caller cancelled and has gone
            return
        self.done.callback(ProcessResult(exit_code, sig, b"".join(self._out), b"".join(self._err)))


async def run_process(
    reactor: Any,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,  # noqa: ASYNC109 (enforced inside: TERM, then KILL)
    kill_grace: float = 5.0,
) -> ProcessResult:
    """
    Run argv to completion and return what it printed and how it ended.

    :param reactor: provides ``spawnProcess`` and ``callLater``.
    :param argv: the program (a path, or a name looked up in the child's ``PATH``)
        and its arguments.  Never put a secret here: any user can read a
        process's arguments in ``/proc``.  Use ``stdin`` or a 0600 file.
    :param stdin: bytes written to the child's standard input, which is then closed.
    :param env: the child's whole environment (default: ``PATH`` and ``LC_ALL=C``).
    :param timeout: seconds before the child is terminated; ProcessTimeout is raised.
    :param kill_grace: seconds between SIGTERM and SIGKILL.

    Cancelling the call (for example with an outer ``addTimeout``) terminates
    the child the same way and raises CancelledError at once.
    """
    if not argv:
        raise ValueError("empty argv")
    environment = dict(env) if env is not None else {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LC_ALL": "C",
    }
    protocol = _Collector(stdin, reactor, kill_grace)
    reactor.spawnProcess(protocol, argv[0], list(argv), env=environment)
    timed_out = []

    def expire() -> None:
        timed_out.append(True)
        protocol.terminate()

    deadline = reactor.callLater(timeout, expire)
    try:
        result = await protocol.done
    finally:
        if deadline.active():
            deadline.cancel()
    if timed_out:
        raise ProcessTimeout(argv[0], timeout)
    return result
