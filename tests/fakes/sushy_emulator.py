"""
Run sushy-tools' Redfish emulator (``sushy-emulator``) with its fake systems driver, for the tests.

The fake driver (no libvirt, no OpenStack) keeps systems in memory and
applies a power change 1-11 s (``random.randint(1, 11)``) after it is asked
for, like a slow BMC.  Run as ``python sushy_emulator.py --config FILE
--fake``, this wrapper pins that delay to 0 so the tests can check the result
of a change at once; everything else is the emulator as shipped.  With
``SUSHY_REALISTIC_DELAY=1`` in the environment the delay is left alone.
"""

from __future__ import annotations

import logging
import os
import sys


class _NoDelay:
    @staticmethod
    def randint(low: int, high: int) -> int:
        return 0


def main() -> None:
    from sushy_tools.emulator import main as emulator
    from sushy_tools.emulator.resources.systems import fakedriver

    if os.environ.get("SUSHY_REALISTIC_DELAY") != "1":
        fakedriver.random = _NoDelay()  # type: ignore[assignment]
    # Log the actions ("power state set to ...") so a test can see what was asked.
    emulator.app.logger.setLevel(logging.INFO)
    sys.argv[0] = "sushy-emulator"
    emulator.main()


if __name__ == "__main__":
    main()
