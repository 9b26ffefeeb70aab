"""Waiting for something another process does (a worker, the sandbox), without fixed sleeps."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float, what: str):
    """``predicate()``'s first truthy value, polled every 0.1 s; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
