"""The detection trigger: when an account × region's aggregate Lambda metrics rise against their
own baseline. Declared as data (``RISES``, ``RATIO``) and judged by one pure function.

CloudWatch publishes Errors, Throttles, Invocations, ConcurrentExecutions, AsyncEventsDropped and
DeadLetterErrors without a FunctionName dimension: the sum (the maximum for concurrency) over
every function of the account × region. Reading them every minute costs a few metrics per scope
(cents a month), and a rise in any of them is where per-function detail is worth paying for.

A minute *rises* in a count or gauge when it reaches all of

- ``min_value`` (an absolute floor: two errors over a quiet hour are not an incident),
- ``factor`` × the baseline's median, and
- the median + ``mads`` × the spread, the spread being the scaled median absolute deviation
  (1.4826 × MAD, σ for normal data) but at least √median for counts (Poisson noise: a quiet
  series has MAD 0, and one more error than usual must not trigger) and 10 % of the median for
  gauges.

The error rate rises when the minute's Errors / Invocations reaches both ``factor`` × the
baseline hour's ratio (Σ errors / Σ invocations) and that ratio + ``min_delta``, with at least
``min_errors`` errors: it catches a regression on a busy function whose error count is small
next to the whole fleet's but whose share of the minute's errors is not.

The baseline is the ``BASELINE_MINUTES`` known minutes before the judged ones (while a trigger is
active, before its start: an incident must not become its own baseline and end itself); fewer
than ``MIN_BASELINE_MINUTES`` known minutes judge nothing. Only the last ``EVALUATE_MINUTES``
minutes are judged: CloudWatch publishes a minute's points for a couple of minutes after it (and
Lambda stamps them with the invocation's start), so the newest minutes are re-read each run and
a count only grows — a late point can start a trigger, never end one early.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BASELINE_MINUTES = 60
MIN_BASELINE_MINUTES = 15
EVALUATE_MINUTES = 3
MAD_SCALE = 1.4826  # MAD × this estimates σ for normally distributed data


@dataclass(frozen=True)
class Rise:
    """A count or gauge column that triggers when one minute rises above its baseline."""

    signal: str  # ops.models.AggregateSignal value
    column: str  # RegionStat column
    min_value: float
    factor: float
    mads: float
    count: bool = True  # Poisson floor on the spread (counts) or 10 % of the median (gauges)


@dataclass(frozen=True)
class RatioRise:
    signal: str
    numerator: str
    denominator: str
    min_errors: float
    factor: float
    min_delta: float


RISES: tuple[Rise, ...] = (
    # 1.5 × the median: in a big fleet the median is large and its noise small (√median), so a
    # higher factor would hide a single busy function's regression the MAD margin already sees.
    Rise("errors", "errors", min_value=5, factor=1.5, mads=4.0),
    Rise("throttles", "throttles", min_value=5, factor=2.0, mads=4.0),
    # Any dropped event or failed DLQ write is lost data: a low floor.
    Rise("async_events_dropped", "async_events_dropped", min_value=1, factor=2.0, mads=4.0),
    Rise("dead_letter_errors", "dead_letter_errors", min_value=1, factor=2.0, mads=4.0),
    # Traffic and concurrency swing with the time of day and with bursts: wider margins.
    Rise("concurrency", "concurrency_max", min_value=10, factor=1.5, mads=6.0, count=False),
    Rise("invocations", "invocations", min_value=100, factor=2.0, mads=6.0),
)
RATIO = RatioRise("error_rate", "errors", "invocations", min_errors=5, factor=2.0, min_delta=0.05)

COLUMNS: tuple[str, ...] = tuple(dict.fromkeys([r.column for r in RISES] + [RATIO.numerator, RATIO.denominator]))


@dataclass(frozen=True)
class Breach:
    signal: str
    index: int  # position of the breaching minute in ``recent``
    value: float
    baseline: float  # median, or the baseline hour's ratio
    threshold: float


def _known(rows: Sequence[Mapping[str, float | None]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r.get(column) is not None]


def rise_threshold(rule: Rise, values: Sequence[float]) -> tuple[float, float] | None:
    """(median, threshold) of a baseline, or None when it has too few known minutes."""
    if len(values) < MIN_BASELINE_MINUTES:
        return None
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    floor = math.sqrt(max(median, 1.0)) if rule.count else max(0.1 * median, 1.0)
    spread = max(MAD_SCALE * mad, floor)
    return median, max(rule.min_value, rule.factor * median, median + rule.mads * spread)


def ratio_threshold(rule: RatioRise, baseline: Sequence[Mapping[str, float | None]]) -> tuple[float, float] | None:
    rows = [r for r in baseline if r.get(rule.numerator) is not None and r.get(rule.denominator) is not None]
    if len(rows) < MIN_BASELINE_MINUTES:
        return None
    den = sum(float(r[rule.denominator]) for r in rows)
    base = sum(float(r[rule.numerator]) for r in rows) / den if den > 0 else 0.0
    return base, max(rule.factor * base, base + rule.min_delta)


def breaches(
    *,
    recent: Sequence[Mapping[str, float | None]],
    baseline: Sequence[Mapping[str, float | None]],
    rises: Sequence[Rise] = RISES,
    ratio: RatioRise | None = RATIO,
) -> list[Breach]:
    """Every (signal, minute) of ``recent`` that rises against ``baseline``, in signal order.

    Both are minute rows oldest first (a column missing or None = not known for that minute).
    """
    out: list[Breach] = []
    for rule in rises:
        judged = rise_threshold(rule, _known(baseline, rule.column))
        if judged is None:
            continue
        median, threshold = judged
        for i, row in enumerate(recent):
            v = row.get(rule.column)
            if v is not None and float(v) >= threshold:
                out.append(Breach(rule.signal, i, float(v), median, threshold))
    if ratio is not None:
        judged = ratio_threshold(ratio, baseline)
        if judged is not None:
            base, threshold = judged
            for i, row in enumerate(recent):
                num, den = row.get(ratio.numerator), row.get(ratio.denominator)
                if num is None or not den or float(num) < ratio.min_errors:
                    continue
                rate = float(num) / float(den)
                if rate >= threshold:
                    out.append(Breach(ratio.signal, i, rate, base, threshold))
    return out
