"""run_process with real children: output, stdin, deadline and cancellation end the child."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from power.process import ProcessTimeout, run_process


async def wait_until_gone(reactor: Any, pid: int) -> bool:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await deferLater(reactor, 0.05, lambda: None)
    return False


def read_pid(path: Path) -> int | None:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else None


async def wait_for_pid(reactor: Any, path: Path) -> int:
    for _ in range(100):
        pid = read_pid(path)
        if pid is not None:
            return pid
        await deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"{path} never appeared")


@pytest_twisted.ensureDeferred
async def test_stdin_output_and_exit_code(reactor: Any) -> None:
    """stdin reaches the child; stdout, stderr and the exit status come back."""
    result = await run_process(reactor, ["/bin/sh", "-c", "cat; echo oops >&2; exit 3"],
                               stdin=b"hello")
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"hello", b"oops\n")


@pytest_twisted.ensureDeferred
async def test_deadline_kills_a_child_that_ignores_term(reactor: Any, tmp_path: Path) -> None:
    """A child that traps TERM is KILLed after the grace period; ProcessTimeout is raised."""
    pidfile = tmp_path / "pid"
    script = f"trap '' TERM; echo $$ > {pidfile}; while :; do sleep 0.1; done"
    with pytest.raises(ProcessTimeout):
        await run_process(reactor, ["/bin/sh", "-c", script], timeout=0.5, kill_grace=0.5)
    pid = read_pid(pidfile)
    assert pid is not None
    assert await wait_until_gone(reactor, pid)


@pytest_twisted.ensureDeferred
async def test_cancel_terminates_the_child(reactor: Any, tmp_path: Path) -> None:
    """Cancelling the call (an outer timeout does this) ends the child process too."""
    pidfile = tmp_path / "pid"
    call = Deferred.fromCoroutine(run_process(
        reactor, ["/bin/sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=60))
    pid = await wait_for_pid(reactor, pidfile)
    call.cancel()
    with pytest.raises(CancelledError):
        await call
    assert await wait_until_gone(reactor, pid)
