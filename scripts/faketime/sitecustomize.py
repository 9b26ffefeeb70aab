"""Python start-up hook for the suite's second run, 60 days ahead under libfaketime.

scripts/faketime.sh puts this directory on PYTHONPATH, so every Python process of that run
(pytest, and the sandbox and worker subprocesses the tests start) imports it first.

libfaketime 0.9.10 and CPython 3.11 disagree about sleeping: with the monotonic clock faked,
every threading wait with a timeout hangs (CPython waits with sem_clockwait, which libfaketime
does not intercept, until a deadline 60 days away); with it left real
(FAKETIME_DONT_FAKE_MONOTONIC=1, which this run uses), libfaketime shifts the absolute
deadline that time.sleep hands to clock_nanosleep and the call fails with EINVAL. select()
with a timeout is left alone, so time.sleep waits in select() here. Nothing else changes.
"""

import os
import select
import time

if "faketime" in os.environ.get("LD_PRELOAD", ""):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
