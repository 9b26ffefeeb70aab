"""When an episode began: the range's error episode for "what changed" (``onset``), and the now
state's episode of the signal that fires, with its baseline and whether it is chronic
(``episode_of``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ops.rules.evaluate import Finding, Record, signal_level, value_level
from ops.rules.signals import ERROR_RATE, Signal

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


# ---------------------------------------------------------------------------------------------
# The now state's episode: when the signal that fires began, and whether it is chronic.

GAP_MINUTES = 2  # quiet minutes allowed inside an episode (a low-rate function skips some)
ROSE_FACTOR = 2.0  # "↑ from x" only when the value at least doubled


@dataclass(frozen=True)
class Episode:
    signal: Signal
    since: datetime | None  # the first bad minute of the episode (None: no minute data)
    before_lookback: bool  # the episode runs back past the minutes read: older than that
    chronic: bool  # the minutes before the episode were on fire for this signal too
    now_value: float | None
    baseline_value: float | None  # the signal's value over the minutes before the episode

    @property
    def rose(self) -> bool:
        """Whether the value really rose against the minutes before (not for a chronic one)."""
        if self.chronic or self.now_value is None or self.baseline_value is None:
            return False
        return self.now_value >= ROSE_FACTOR * self.baseline_value and self.now_value > self.baseline_value

    @property
    def ratio(self) -> float:
        """How far above its baseline, for ranking (a problem out of nothing counts as 1000×)."""
        if self.now_value is None:
            return 0.0
        if not self.baseline_value:
            return 1000.0
        return min(1000.0, self.now_value / self.baseline_value)


def firing_signal(findings: list[Finding]) -> Signal | None:
    """The signal that puts the function on fire (the first that fires, in declaration order)."""
    return next((f.signal for f in findings if f.fires), None)


def _minute_record(data: "SeriesData", i: int, record_of) -> Record:
    return record_of([{c: data.values[c][i] for c in data.values}])


def minute_bad(signal: Signal, record: Record) -> bool:
    """A single minute is bad for ``signal`` when its value alone reaches the firing level
    (minimum volumes aside: they are met by the window, not by one minute); an error rate
    needs at least one error."""
    if signal.fires is None:
        return False
    value = getattr(record, signal.column)
    if signal.volume and not getattr(record, signal.volume):
        return False
    return value_level(signal, value).rank >= signal.fires.rank


def episode_of(signal: Signal, data: "SeriesData", *, now: Record, record_of) -> Episode:
    """The current episode of ``signal`` in minute buckets ending with the now window.

    1. A minute is bad when its own value reaches the signal's firing level (``minute_bad``).
    2. The episode is the run of bad minutes that ends at the latest bad one, allowing
       ``GAP_MINUTES`` quiet minutes inside; for a rate (errors, throttles) its start moves to
       the most likely change point within the run (``_change_point``); that minute is "since".
    3. The baseline is the record of the minutes before the episode (``record_of``, the same
       aggregation as the now window); chronic when that record is on fire for the signal too,
       or when the episode runs back past the first minute read.
    A signal the minute data does not carry (the DLQ's growth) gives no "since".
    """
    now_value = getattr(now, signal.column)
    if signal.column not in _MINUTE_SIGNAL_COLUMNS or data is None or not len(data):
        return Episode(signal, None, False, False, now_value, None)
    records = [_minute_record(data, i, record_of) for i in range(len(data))]
    bad = [minute_bad(signal, r) for r in records]
    last = max((i for i, b in enumerate(bad) if b), default=None)
    if last is None:
        return Episode(signal, None, False, False, now_value, None)
    first, quiet = last, 0
    for i in range(last - 1, -1, -1):
        if bad[i]:
            first, quiet = i, 0
        else:
            quiet += 1
            if quiet > GAP_MINUTES:
                break
    # the run reaches the first minute read (within the same quiet gap): older than the lookback
    before_lookback = first <= GAP_MINUTES
    if not before_lookback:
        first = _change_point(signal, records, first, last)
    baseline = record_of([{c: data.values[c][i] for c in data.values} for i in range(first)]) if first else None
    baseline_value = getattr(baseline, signal.column) if baseline is not None else None
    chronic = before_lookback or (
        baseline is not None and signal_level(signal, baseline).rank >= signal.fires.rank
    )
    return Episode(signal, data.ts[first], before_lookback, chronic, now_value, baseline_value)


def _trials(signal: Signal, r: Record) -> tuple[float, float] | None:
    """(events, trials) of a minute for the signals that are a rate of calls."""
    if signal.key == "error_rate":
        return (r.errors or 0.0, r.invocations or 0.0)
    if signal.key == "throttles":
        return (r.throttles or 0.0, (r.invocations or 0.0) + (r.throttles or 0.0))
    return None


def _loglik(k: float, n: float) -> float:
    if n <= 0 or k <= 0 or k >= n:
        return 0.0
    p = k / n
    return k * math.log(p) + (n - k) * math.log(1 - p)


def _change_point(signal: Signal, records: list[Record], first: int, last: int) -> int:
    """Where within [first, last] the rate most likely changed: the split that maximises the
    binomial likelihood of "one rate before, another from here". A noisy minute of the old
    rate just before the onset (2 errors of 30 at a 1 % baseline) is then not taken for the
    start of the episode, which a run of bad minutes alone would do."""
    counts = [_trials(signal, r) for r in records[: last + 1]]
    if counts[0] is None:
        return first
    k_tot = sum(k for k, _ in counts)
    n_tot = sum(n for _, n in counts)
    k_before = sum(k for k, _ in counts[:first])
    n_before = sum(n for _, n in counts[:first])
    best, best_ll = first, -math.inf
    for i in range(first, last + 1):
        ll = _loglik(k_before, n_before) + _loglik(k_tot - k_before, n_tot - n_before)
        if ll > best_ll + 1e-9:
            best, best_ll = i, ll
        k_before += counts[i][0]
        n_before += counts[i][1]
    return best


# Signals whose column a minute bucket's record carries.
_MINUTE_SIGNAL_COLUMNS = {"error_rate", "throttles", "p99_pct", "async_events_dropped", "iterator_age_max",
                          "concurrency_pct"}


def rank_key(episode: Episode | None, *, name: str = "") -> tuple:
    """New problems above chronic ones; then by how far above baseline (in doublings), then
    the most recent first."""
    if episode is None:
        return (2, 0, 0, name)
    doublings = math.floor(math.log2(max(episode.ratio, 1.0)))
    recent = -episode.since.timestamp() if episode.since else 0
    return (1 if episode.chronic else 0, -doublings, recent, name)
