"""Small helpers several test modules share: `from tests.helpers import ...` (fixtures live in conftest.py)."""

import time


def wait_until(cond, timeout: float = 10.0) -> bool:
    """Poll `cond` until it holds or `timeout` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()
