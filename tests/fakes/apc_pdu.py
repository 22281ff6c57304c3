"""
An APC switched rack PDU's outlet table for Net-SNMP's snmpd, as a ``pass_persist`` handler.

snmpd speaks the SNMP (communities, v1 PDUs, error statuses); this program
holds the outlets' state under ``rPDUOutletControlOutletCommand``
(``.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.N``, N = 1..8) with an APC's semantics:
SET 1 (immediateOn) or 2 (immediateOff) switches the outlet, 3
(immediateReboot) leaves it on, anything else is ``wrong-value``, a
non-INTEGER is ``wrong-type``.  A GET reads 1 (on) or 2 (off).

It runs as ``apc_pdu.py STATE_DIR``: ``STATE_DIR/outlets`` holds one value per
line (outlet 1 first), so a test can read and set the state, and every SET
is appended to ``STATE_DIR/sets.log`` as ``OUTLET VALUE``.

pass_persist protocol (snmpd(8), snmpd.conf(5)): ``PING`` → ``PONG``;
``get``/``getnext`` then an OID → ``OID``, ``integer``, value, or ``NONE``;
``set``, OID, ``TYPE VALUE`` → ``DONE`` or an error word.  After a SET,
snmpd sends an extra blank line: it is skipped (reading it as a command
wedges snmpd, test-peers.md §5c).
"""

from __future__ import annotations

import sys
from pathlib import Path

BASE = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
OUTLETS = 8


def load(state: Path) -> list[int]:
    return [int(line) for line in (state / "outlets").read_text().split()]


def save(state: Path, values: list[int]) -> None:
    tmp = state / "outlets.tmp"
    tmp.write_text("".join(f"{value}\n" for value in values))
    tmp.replace(state / "outlets")


def outlet_of(oid: str) -> int | None:
    if not oid.startswith(BASE + "."):
        return None
    rest = oid[len(BASE) + 1:]
    if not rest.isdigit() or not 1 <= int(rest) <= OUTLETS:
        return None
    return int(rest)


def next_outlet(oid: str) -> int | None:
    """The outlet whose OID follows oid (getnext), or None past the last one."""
    if oid == BASE or BASE.startswith(oid + "."):
        return 1
    current = outlet_of(oid)
    if current is None or current >= OUTLETS:
        return None
    return current + 1


def answer(out: object, *lines: str) -> None:
    for line in lines:
        print(line, file=out)  # type: ignore[call-overload]
    out.flush()  # type: ignore[attr-defined]


def main() -> None:
    state = Path(sys.argv[1])
    out = sys.stdout
    lines = iter(sys.stdin.readline, "")
    for raw in lines:
        command = raw.strip()
        if not command:
            continue  # the blank line snmpd sends after a SET
        if command == "PING":
            answer(out, "PONG")
        elif command in ("get", "getnext"):
            oid = next(lines, "").strip()
            outlet = outlet_of(oid) if command == "get" else next_outlet(oid)
            if outlet is None:
                answer(out, "NONE")
            else:
                answer(out, f"{BASE}.{outlet}", "integer", str(load(state)[outlet - 1]))
        elif command == "set":
            oid = next(lines, "").strip()
            kind, _, value = next(lines, "").strip().partition(" ")
            outlet = outlet_of(oid)
            if outlet is None:
                answer(out, "not-writable")
            elif kind.lower() != "integer":
                answer(out, "wrong-type")
            elif value not in ("1", "2", "3"):
                answer(out, "wrong-value")
            else:
                with (state / "sets.log").open("a") as log:
                    log.write(f"{outlet} {value}\n")
                values = load(state)
                values[outlet - 1] = 1 if value == "3" else int(value)
                save(state, values)
                answer(out, "DONE")
        else:
            answer(out, "NONE")


if __name__ == "__main__":
    main()
