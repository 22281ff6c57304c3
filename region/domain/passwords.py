"""
Users' passwords, stored only as slow salted hashes (scrypt).

Hashing costs tens of milliseconds of CPU on purpose, so the region never
does it in the reactor: :func:`hash_password_off_reactor` runs this module as
a child process that reads the password on standard input.  Command-line
tools, which have no reactor to protect, call :func:`hash_password` directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from typing import Any

from power.process import run_process

#: scrypt cost parameters: 16 MiB of memory and ~50 ms per hash on one core.
N, R, P = 2**14, 8, 1
_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """Return a self-describing hash of password: ``scrypt$N$r$p$salt$digest``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    encode = base64.b64encode
    return f"{_SCHEME}${N}${R}${P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True if password hashes to encoded; the digests are compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt),
            n=int(n), r=int(r), p=int(p), dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password_off_reactor(reactor: Any, password: str) -> str:
    """Hash password in a child process, so the reactor stays responsive."""
    result = await run_process(
        reactor, [sys.executable, "-m", "region.domain.passwords"],
        stdin=password.encode("utf-8"), timeout=30.0,
    )
    if not result.ok:
        raise RuntimeError(f"password hashing failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode("ascii").strip()


if __name__ == "__main__":
    print(hash_password(sys.stdin.buffer.read().decode("utf-8")))
