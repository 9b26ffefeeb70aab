"""When the current error episode began, judged with the error-rate signal's warn level."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ops.rules.signals import ERROR_RATE

if TYPE_CHECKING:
    from ops.selectors.telemetry import SeriesData

ONSET_THRESHOLD_PCT = ERROR_RATE.warn.at


def onset(data: "SeriesData", *, threshold_pct: float = ONSET_THRESHOLD_PCT) -> tuple[datetime | None, float | None]:
    """When the current error episode began, and the error rate before it.

    1. A bucket is *bad* when it has errors and its error rate (or its throttles) crosses
       the threshold.
    2. The episode is the last run of bad buckets, allowing one quiet bucket inside it.
    3. The baseline is the error rate over the buckets before the episode (None if none).
    """
    inv, err, thr = data["invocations"], data["errors"], data["throttles"] if "throttles" in data.values else None
    bad = []
    for i in range(len(data.ts)):
        e, n = err[i] or 0, inv[i] or 0
        is_bad = e > 0 and (n == 0 or 100.0 * e / n >= threshold_pct)
        if thr is not None and (thr[i] or 0) > 0:
            is_bad = True
        bad.append(is_bad)
    last = max((i for i, b in enumerate(bad) if b), default=None)
    if last is None:
        return None, None
    first = last
    i = last - 1
    while i >= 0:
        if bad[i]:
            first = i
        elif i - 1 >= 0 and bad[i - 1]:
            pass  # one quiet bucket inside an episode does not end it
        else:
            break
        i -= 1
    before_inv = sum(v or 0 for v in inv[:first])
    before_err = sum(v or 0 for v in err[:first])
    baseline = 100.0 * before_err / before_inv if before_inv else None
    return data.ts[first], baseline
