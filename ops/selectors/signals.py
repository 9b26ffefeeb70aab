"""What counts as out of line: the on-fire rules and when an error episode began.

Kept in one place so the fleet overview, the function page and the tests agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ops.selectors.telemetry import SeriesData

if TYPE_CHECKING:
    from ops.selectors.fleet import FleetRow

# What puts a function "on fire".
FIRE_ERROR_RATE_PCT = 5.0
FIRE_MIN_ERRORS = 5
WARN_ERROR_RATE_PCT = 1.0
FIRE_MIN_THROTTLES = 1
FIRE_P99_OF_TIMEOUT_PCT = 80.0
FIRE_ITERATOR_AGE_MS = 60_000.0
FIRE_CONCURRENCY_PCT = 90.0



def fire_reasons(row: "FleetRow") -> list[tuple[str, str]]:
    """Why a row is on fire, worst first, each with its unit."""
    out: list[tuple[str, str]] = []
    if row.error_rate is not None and row.error_rate >= FIRE_ERROR_RATE_PCT and row.errors >= FIRE_MIN_ERRORS:
        out.append(("bad", f"error rate {row.error_rate:.1f} % ({int(row.errors):,} errors)"))
    elif row.error_rate is not None and row.error_rate >= WARN_ERROR_RATE_PCT and row.errors > 0:
        out.append(("warn", f"error rate {row.error_rate:.1f} %"))
    if row.throttles >= FIRE_MIN_THROTTLES:
        limit = f" (reserved {row.reserved_concurrency})" if row.reserved_concurrency is not None else ""
        out.append(("bad", f"throttles {int(row.throttles):,}{limit}"))
    if row.p99_pct is not None and row.p99_pct >= FIRE_P99_OF_TIMEOUT_PCT:
        out.append(("bad" if row.p99_pct >= 95 else "warn", f"p99 {row.p99_pct:.0f} % of {row.timeout_s} s timeout"))
    if row.dlq_growth and row.dlq_growth > 0:
        out.append(("bad", f"DLQ depth {int(row.dlq_depth):,} messages (+{int(row.dlq_growth):,} in range)"))
    if row.async_events_dropped:
        out.append(("bad", f"async events dropped {int(row.async_events_dropped):,}"))
    if row.iterator_age_max is not None and row.iterator_age_max >= FIRE_ITERATOR_AGE_MS:
        out.append(("warn", f"iterator age {row.iterator_age_max / 60000:.0f} min"))
    if row.concurrency_pct is not None and row.concurrency_pct >= FIRE_CONCURRENCY_PCT:
        out.append(("warn", f"concurrency {row.concurrency_max:.0f} of {row.concurrency_limit}"))
    return out


def onset(data: SeriesData, *, threshold_pct: float = WARN_ERROR_RATE_PCT) -> tuple[datetime | None, float | None]:
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
