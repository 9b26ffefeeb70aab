"""How often a rule would have fired over the last 7 days of stored data, for one target.

The replay is the evaluator's own logic (ops.alerts.judge over the same per-minute values the
tick builds, ops.alerts.evaluate.MINUTE_SIGNALS through ops.rules.now.now_record), stepped one
minute at a time from the oldest stored minute to the target's known-until:

1. Read the target's minute rows over the 7 days, and its 5-minute rows for the same span
   (minute rows are kept 15 days by CloudWatch, but the product's own retention may have
   rolled them up). Where a 5-minute bucket has no minute row, it stands in as five minutes of
   its per-minute average (counts ÷ 5; ratios, percentiles and maxima as they are), which the
   page says.
2. Per minute: the value (and volume), then its mark (breaching / not / missing).
3. Replay the state machine over the rule's last N marks at each minute; count the times it
   entered "firing" and the minutes spent firing, and collect the firing spans for the chart.

Region headroom replays RegionStat minutes the same way; DLQ depth and new DLQ messages replay
the AWS/SQS depth metric (QueueStat, the last known depth carried forward, summed over the
function's DLQs; new messages = the depth's rise in the minute — the DLQ poller's arrivals are
not kept per minute, so a queue drained and refilled within a minute reads flat here). Cost and
poll health have no per-minute history the replay could trust and are not previewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from ops.alerts.evaluate import MINUTE_SIGNALS
from ops.alerts.judge import FIRING, OK, Criteria, state_next, window_mark
from ops.alerts.sources import MINUTE, ROW_COLUMNS
from ops.models import Account, Function, Series, SeriesKind
from ops.models.choices import AlertSignal
from ops.models.telemetry import SUM_COLUMNS
from ops.rules import now as now_rule
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.telemetry import series_known_until

PREVIEW_DAYS = 7
DLQ_PREVIEW = {AlertSignal.DLQ_DEPTH.value, AlertSignal.DLQ_NEW_MESSAGES.value}
PREVIEWABLE = set(MINUTE_SIGNALS) | {AlertSignal.REGION_HEADROOM.value} | DLQ_PREVIEW


@dataclass
class Preview:
    start: datetime | None = None
    values: list[float | None] = field(default_factory=list)  # one per minute from start
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)  # firing [from, to)
    fired: int = 0  # times it entered firing
    firing_minutes: int = 0
    known_minutes: int = 0  # minutes with a data point
    from_five_minute: int = 0  # minutes that came from 5-minute rows
    reason: str = ""  # why there is nothing to show

    @property
    def minutes(self) -> int:
        return len(self.values)

    @property
    def firing_pct(self) -> float | None:
        return 100.0 * self.firing_minutes / self.minutes if self.minutes else None

    @property
    def end(self) -> datetime | None:
        return None if self.start is None else self.start + MINUTE * self.minutes


def replay(values: list[float | None], volumes: list[float | None] | None, c: Criteria, *, start: datetime) -> Preview:
    """Steps 2 and 3 over per-minute values (oldest first, one per minute from ``start``)."""
    out = Preview(start=start, values=values)
    vols = volumes if volumes is not None else [None] * len(values)
    marks = [window_mark(v, vol, c) for v, vol in zip(values, vols)]
    out.known_minutes = sum(1 for v in values if v is not None)
    state, since = OK, None
    for i in range(len(marks)):
        window = marks[max(0, i - c.n + 1): i + 1]
        if len(window) < c.n:  # before the first full window: the minutes before start are missing
            window = [None] * (c.n - len(window)) + window
        new, _ = state_next(state, window, c)
        at = start + MINUTE * (i + 1)  # the end of the minute just judged
        if new == FIRING and state != FIRING:
            out.fired += 1
            since = at
        elif state == FIRING and new != FIRING:
            out.spans.append((since, at))
        if new == FIRING:
            out.firing_minutes += 1
        state = new
    if state == FIRING and since is not None:
        out.spans.append((since, start + MINUTE * len(marks)))
    return out


def _function_minutes(function: Function, *, end: datetime) -> tuple[datetime, dict[datetime, dict], int]:
    """Step 1: minute rows, with 5-minute rows standing in where no minute row is stored."""
    start = end - timedelta(days=PREVIEW_DAYS)
    series = Series.objects.filter(function=function, kind=SeriesKind.FUNCTION, qualifier="").first()
    if series is None:
        return start, {}, 0
    cols = ", ".join(ROW_COLUMNS)
    rows: dict[datetime, dict] = {}
    five: dict[datetime, dict] = {}
    with connection.cursor() as cur:
        for table, into in (("ops_minutestat", rows), ("ops_fiveminutestat", five)):
            cur.execute(f"SELECT ts, {cols} FROM {table} WHERE series_id = %s AND ts >= %s AND ts < %s ORDER BY ts",
                        [series.id, start, end])
            for ts, *values in cur.fetchall():
                into[ts] = dict(zip(ROW_COLUMNS, values))
    filled = 0
    for ts, row in five.items():
        slots = [ts + MINUTE * k for k in range(5)]
        if any(s in rows for s in slots):
            continue
        per_minute = {c: (v / 5.0 if c in SUM_COLUMNS and v is not None else v) for c, v in row.items()}
        for s in slots:
            if start <= s < end:
                rows[s] = per_minute
                filled += 1
    return start, rows, filled


def _known_until(function: Function) -> datetime | None:
    if function.metrics_known_until:
        return function.metrics_known_until
    series = Series.objects.filter(function=function, kind=SeriesKind.FUNCTION, qualifier="").first()
    return series_known_until(series_ids=[series.id]).get(series.id) if series else None


def dlq_preview(*, signal: str, criteria: Criteria, function: Function, end: datetime | None = None) -> Preview:
    from ops.models import DLQ_ROLES, FunctionQueue, QueueStat

    queues = list(FunctionQueue.objects.filter(function=function, role__in=list(DLQ_ROLES))
                  .values_list("queue_id", flat=True).distinct())
    if not queues:
        return Preview(reason=f"{function.name} has no DLQ or on-failure queue: nothing to replay.")
    end = end or _known_until(function)
    if end is None:
        return Preview(reason=f"No minute of {function.name} is stored yet: nothing to replay.")
    start = end - timedelta(days=PREVIEW_DAYS)
    samples: dict[int, dict[datetime, float]] = {q: {} for q in queues}
    for qid, ts, v in QueueStat.objects.filter(queue_id__in=queues, ts__gte=start, ts__lt=end,
                                               visible_max__isnull=False).values_list("queue_id", "ts", "visible_max"):
        samples[qid][ts] = float(v)
    last: dict[int, float] = {}
    depths: list[float | None] = []
    for i in range(int((end - start) / MINUTE)):
        ts = start + MINUTE * i
        for qid in queues:
            if ts in samples[qid]:
                last[qid] = samples[qid][ts]
        depths.append(sum(last.values()) if last else None)
    if signal == AlertSignal.DLQ_DEPTH:
        values = depths
    else:
        # The rise in each minute (growth_sql's "depth − coalesce(before, 0)"); the first minute of
        # the 7 days has no "before" inside the replay, so it is missing rather than all growth.
        values = [None if d is None or i == 0 else d - (depths[i - 1] or 0.0) for i, d in enumerate(depths)]
    out = replay(values, None, criteria, start=start)
    if not out.known_minutes:
        out.reason = f"No DLQ depth of {function.name} is stored for the last {PREVIEW_DAYS} days."
    return out


def function_preview(*, signal: str, criteria: Criteria, function: Function, end: datetime | None = None) -> Preview:
    if signal in DLQ_PREVIEW:
        return dlq_preview(signal=signal, criteria=criteria, function=function, end=end)
    if signal not in MINUTE_SIGNALS:
        return Preview(reason="This signal has no per-minute history to replay; the preview covers per-function "
                              "metrics and region headroom.")
    end = end or _known_until(function)
    if end is None:
        return Preview(reason=f"No minute of {function.name} is stored yet: nothing to replay.")
    start, rows, filled = _function_minutes(function, end=end)
    column, volume = MINUTE_SIGNALS[signal]
    limit = function.reserved_concurrency or account_concurrency_limit()
    values, volumes = [], []
    n = int((end - start) / MINUTE)
    for i in range(n):
        row = rows.get(start + MINUTE * i)
        rec = None if row is None else now_rule.now_record(
            [row], timeout_s=function.timeout_s, concurrency_limit=limit,
            reserved_concurrency=function.reserved_concurrency)
        values.append(None if rec is None else getattr(rec, column))
        volumes.append(None if rec is None or not volume else getattr(rec, volume))
    out = replay(values, volumes if volume else None, criteria, start=start)
    out.from_five_minute = filled
    if not out.known_minutes:
        out.reason = f"No data point of this metric for {function.name} in the last {PREVIEW_DAYS} days."
    return out


def region_preview(*, criteria: Criteria, account: Account, region: str) -> Preview:
    limit = account_concurrency_limit()
    with connection.cursor() as cur:
        cur.execute("SELECT max(ts) FROM ops_regionstat WHERE account_id = %s AND region = %s", [account.pk, region])
        (last,) = cur.fetchone()
        if last is None:
            return Preview(reason=f"No region concurrency is stored for {account.name} / {region} yet.")
        end = last + MINUTE
        start = end - timedelta(days=PREVIEW_DAYS)
        cur.execute("SELECT ts, coalesce(claimed_concurrency_max, concurrency_max) FROM ops_regionstat "
                    "WHERE account_id = %s AND region = %s AND ts >= %s AND ts < %s", [account.pk, region, start, end])
        by_ts = {ts: (None if v is None else 100.0 - 100.0 * float(v) / limit) for ts, v in cur.fetchall()}
    n = int((end - start) / MINUTE)
    return replay([by_ts.get(start + MINUTE * i) for i in range(n)], None, criteria, start=start)


def scope_functions(rule, *, limit: int = 500) -> list[Function]:
    """The live functions a (saved or unsaved) rule's scope covers, by name, at most ``limit``."""
    from ops.models.choices import AlertScope

    qs = Function.objects.filter(gone_at__isnull=True, account__enabled=True).select_related("account")
    if rule.scope == AlertScope.FUNCTION:
        qs = qs.filter(pk=rule.function_id)
    elif rule.scope == AlertScope.TAG:
        qs = qs.filter(tags__contains={rule.tag_key: rule.tag_value}) if rule.tag_value else qs.filter(
            tags__has_key=rule.tag_key)
    elif rule.scope == AlertScope.ACCOUNT:
        qs = qs.filter(account_id=rule.account_id)
    elif rule.scope == AlertScope.REGION:
        qs = qs.filter(account_id=rule.account_id, region=rule.region)
    return list(qs.order_by("name", "id")[:limit])


def worst_function(rule, functions: list[Function]) -> Function | None:
    """The default function to preview: the one whose latest judged value of this signal is the
    worst (highest, or lowest for a "below" rule) by any rule on it; else the first."""
    from ops.models import AlertState
    from ops.models.choices import AlertComparison

    if not functions:
        return None
    below = rule.comparison in (AlertComparison.LT, AlertComparison.LTE)
    st = (AlertState.objects.filter(rule__signal=rule.signal, function__in=functions, value__isnull=False)
          .order_by("value" if below else "-value").values_list("function_id", flat=True).first())
    by_pk = {f.pk: f for f in functions}
    return by_pk.get(st, functions[0])
