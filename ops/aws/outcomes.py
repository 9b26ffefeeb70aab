"""Which AWS calls succeeded and which failed, counted for whoever asks (a poll run).

A poller swallows a transient failure of one call and re-reads that window next run, so the run
itself "succeeds"; without this tally, a run in which every GetMetricData call timed out looked
exactly like a healthy one. The hooks run once per API call after botocore's own retries (the
outcome the code saw), and count into the tally of the ``track()`` block around them, if any.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ops.aws.errors import TRANSIENT_CODES


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    last_code: str = ""
    last_message: str = ""

    @property
    def calls(self) -> int:
        return self.ok + self.failed

    @property
    def main_code(self) -> str:
        """The most frequent failure code (the last one on a tie)."""
        if not self.codes:
            return ""
        top = max(self.codes.values())
        return self.last_code if self.codes[self.last_code] == top else self.codes.most_common(1)[0][0]


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("aws_call_tally", default=None)


@contextmanager
def track() -> Iterator[Tally]:
    tally = Tally()
    token = _current.set(tally)
    try:
        yield tally
    finally:
        _current.reset(token)


def _fail(code: str, message: str) -> None:
    tally = _current.get()
    if tally is not None:
        tally.failed += 1
        tally.codes[code] += 1
        tally.last_code, tally.last_message = code, message[:500]


def after_call_hook(http_response=None, parsed=None, model=None, **kwargs):
    """``after-call``: an answer came back; ≥ 300 is an AWS error (throttling, 5xx, denied)."""
    tally = _current.get()
    if tally is None:
        return
    status = getattr(http_response, "status_code", 200)
    err = (parsed or {}).get("Error", {}) or {}
    code = str(err.get("Code") or f"HTTP{status}")
    # Only failures that mean "AWS did not answer this time" (throttling, 5xx) count: a 4xx such
    # as ResourceNotFoundException is an answer, which the poller handles or raises itself.
    if status >= 300 and (code in TRANSIENT_CODES or status >= 500 or status == 429):
        _fail(code, f"{getattr(model, 'name', 'call')}: {err.get('Message') or status}")
    else:
        tally.ok += 1


def after_call_error_hook(exception=None, model=None, **kwargs):
    """``after-call-error``: no answer at all (connection refused, read timeout)."""
    op = getattr(model, "name", "call")
    _fail(type(exception).__name__ if exception is not None else "Error", f"{op}: {exception}")
