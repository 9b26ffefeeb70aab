"""The now state's reads: whether a function is on fire in its last complete minutes, since
when (the onset of the signal that fires), whether it is chronic, and the deploy before it.

The verdict is ``ops.rules.now``'s window judged by ``ops.rules.evaluate``; the fleet computes
that window in its one SQL statement (``ops.selectors.fleet``) and hands the fire rows here for
their onsets; the function page and the API ask for one function (``function_now``). Both read
the same minute buckets with the same rules, so a page and the overview never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ops.models import DLQ_ROLES, AliasChange, AliasChangeSource, Function, FunctionVersion, Series
from ops.rules import now as now_rule
from ops.rules.episode import Episode, episode_of, firing_signal
from ops.rules.evaluate import Finding, Record, page_findings
from ops.rules.signals import ERROR_RATE
from ops.selectors.dlq_depth import arrivals_sql, depth_before_sql, growth_sql
from ops.selectors.telemetry import SeriesData, series_buckets, series_known_until
from ops.selectors.timerange import TimeRange

DEPLOY_LINK_MINUTES = 60  # an onset within this long after a deploy is attributed to it
DEPLOY_SLACK = timedelta(minutes=2)  # a deploy stamped up to this long after the onset minute began


@dataclass
class NowState:
    """One function's now: ``known_until`` None means no minute of it is known yet."""

    known_until: datetime | None
    record: Record = field(default_factory=Record)
    findings: list[Finding] = field(default_factory=list)
    episode: Episode | None = None
    deploy: AliasChange | None = None
    minutes_after_deploy: int | None = None

    @property
    def on_fire(self) -> bool:
        return any(f.fires for f in self.findings)

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(f.level.value, f.text) for f in self.findings]

    @property
    def since(self) -> datetime | None:
        return self.episode.since if self.episode else None

    @property
    def chronic(self) -> bool:
        return bool(self.episode and self.episode.chronic)

    @property
    def baseline_rate(self) -> float | None:
        """The error rate before the episode, only when the error rate fires and really rose."""
        ep = self.episode
        if ep is None or ep.signal is not ERROR_RATE or not ep.rose:
            return None
        return ep.baseline_value

    @property
    def window_start(self) -> datetime | None:
        return self.known_until - now_rule.NOW_WINDOW if self.known_until else None


@dataclass(frozen=True)
class NowInput:
    """What the onset read needs of one function (the fleet row or the function page)."""

    function_id: int
    series_id: int | None
    known_until: datetime | None
    timeout_s: int
    concurrency_limit: int
    reserved_concurrency: int | None
    record: Record | None = None  # the now window's record when the fleet SQL computed it


def _record_of(inp: NowInput):
    return partial(
        now_rule.now_record,
        timeout_s=inp.timeout_s,
        concurrency_limit=inp.concurrency_limit,
        reserved_concurrency=inp.reserved_concurrency,
    )


def _minutes(data: SeriesData, lo: int, hi: int) -> list[dict]:
    return [{c: data.values[c][i] for c in data.values} for i in range(lo, hi)]


def now_states(
    *, inputs: list[NowInput], only_on_fire: bool = True, dlq: dict[int, tuple[float, float]] | None = None
) -> dict[int, NowState]:
    """The now state of each input (two queries whatever their number: minute buckets over the
    lookback, and the alias changes before the onsets).

    1. Read one-minute buckets over ``LOOKBACK_MINUTES`` ending at the newest known minute.
    2. Per function: the record of its last ``NOW_MINUTES`` known minutes (or the one the fleet
       SQL gave), its findings, and for the signal that fires, its episode (``episode_of``).
    3. The deploy: the last alias change at or before the onset, within an hour of it.
    """
    out: dict[int, NowState] = {}
    known = [i.known_until for i in inputs if i.known_until and i.series_id]
    data: dict[int, SeriesData] = {}
    if known:
        end = max(known)
        lookback = TimeRange(key="custom", start=end - timedelta(minutes=now_rule.LOOKBACK_MINUTES), end=end)
        data = series_buckets(
            series_ids=sorted({i.series_id for i in inputs if i.series_id}),
            time_range=lookback,
            columns=now_rule.COLUMNS,
            max_points=now_rule.LOOKBACK_MINUTES + 1,
            known_until={i.series_id: i.known_until for i in inputs if i.series_id},
        )
    for inp in inputs:
        state = NowState(known_until=inp.known_until if inp.series_id else None)
        out[inp.function_id] = state
        if state.known_until is None:
            continue
        series = data.get(inp.series_id)
        record_of = _record_of(inp)
        record = inp.record
        if record is None:
            if series is None:
                continue
            hi = sum(1 for t in series.ts if t + timedelta(seconds=series.step_s) <= inp.known_until)
            depth, growth = (dlq or {}).get(inp.function_id) or (None, None)
            record = record_of(_minutes(series, max(0, hi - now_rule.NOW_MINUTES), hi), dlq_depth=depth,
                               dlq_growth=growth)
        state.record = record
        state.findings = page_findings(record)
        signal = firing_signal(state.findings)
        if signal is None and only_on_fire:
            continue
        if signal is not None and series is not None:
            hi = sum(1 for t in series.ts if t + timedelta(seconds=series.step_s) <= inp.known_until)
            trimmed = SeriesData(step_s=series.step_s, ts=series.ts[:hi], values={c: v[:hi] for c, v in series.values.items()})
            state.episode = episode_of(signal, trimmed, now=record, record_of=record_of)
    _attach_deploys(out)
    return out


def _attach_deploys(states: dict[int, NowState]) -> None:
    """The deploy before each onset (one query).

    An alias change counts when it happened at or before the onset's minute and at most an
    hour before it. Seen by the inventory poll, a change is stamped when it was seen, up to a
    poll interval late; when its version was published before the onset, the change may be
    that late and still count, and its time is then the version's publish time (the alias
    moved between the two). CloudTrail-stamped changes are exact either way."""
    dated = {fid: s for fid, s in states.items() if s.since is not None}
    if not dated:
        return
    earliest = min(s.since for s in dated.values()) - timedelta(minutes=DEPLOY_LINK_MINUTES)
    published = FunctionVersion.objects.filter(function=OuterRef("function_id"), version=OuterRef("to_version"))
    changes: dict[int, list[AliasChange]] = {}
    for ch in (
        AliasChange.objects.filter(function_id__in=list(dated), at__gte=earliest)
        .exclude(source=AliasChangeSource.CREATED)
        .annotate(published_at=Subquery(published.values("last_modified")[:1]))
        .select_related("alias")
        .order_by("at")
    ):
        changes.setdefault(ch.function_id, []).append(ch)
    late = timedelta(seconds=settings.INVENTORY_POLL_SECONDS) + timedelta(minutes=1)
    for fid, s in dated.items():
        # A change stamped within the onset's minute counts (the minute began before it), and
        # within the next one too: CloudWatch stamps a call with its start, and the onset is
        # only known to the minute, so a bad build's first calls can land in the minute before.
        window_end = s.since + DEPLOY_SLACK
        before = []
        for d in changes.get(fid, []):
            at = d.at
            if at >= window_end and d.published_at and d.published_at < window_end and at - s.since <= late:
                at = d.published_at
            if at < window_end and s.since - at <= timedelta(minutes=DEPLOY_LINK_MINUTES):
                before.append((at, d))
        if before:
            at, s.deploy = max(before, key=lambda x: x[0])
            s.minutes_after_deploy = max(0, round((s.since - at).total_seconds() / 60))


_ASK = object()


def function_now(
    *, function: Function, series: Series | None, concurrency_limit: int, known_until: datetime | None = _ASK
) -> NowState:
    """The function page's and the API's now state (four queries at most: known-until when
    neither the caller nor the poller has it, the DLQs' depth, the lookback buckets, the deploys
    when on fire)."""
    if series is None:
        return NowState(known_until=None)
    known = known_until
    if known is _ASK:
        known = function.metrics_known_until or series_known_until(series_ids=[series.id]).get(series.id)
    inp = NowInput(
        function_id=function.pk,
        series_id=series.id,
        known_until=known,
        timeout_s=function.timeout_s,
        concurrency_limit=concurrency_limit,
        reserved_concurrency=function.reserved_concurrency,
    )
    dlq = _dlq_now(function=function, known_until=known) if known else None
    return now_states(inputs=[inp], only_on_fire=False, dlq={function.pk: dlq} if dlq else None)[function.pk]


def _dlq_now(*, function: Function, known_until: datetime) -> tuple[float, float] | None:
    """(depth, growth) of the function's DLQs over the now window, as the fleet statement
    computes them: the latest depth before known-until, minus the latest before the window."""
    sql = f"""
SELECT sum(q.visible_max)::float8, sum({growth_sql('q.visible_max', 'b.visible_max', 'ar.n')})::float8
FROM ops_functionqueue fq
CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', '%(known)s')} AS visible_max) q
CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', '%(start)s')} AS visible_max) b
CROSS JOIN LATERAL (SELECT {arrivals_sql('fq.queue_id', '%(start)s', '%(known)s')} AS n) ar
WHERE fq.function_id = %(fid)s AND fq.role = ANY(%(roles)s)
"""
    with connection.cursor() as cur:
        cur.execute(sql, {"known": known_until, "start": known_until - now_rule.NOW_WINDOW, "fid": function.pk,
                          "roles": [r.value for r in DLQ_ROLES]})
        depth, growth = cur.fetchone()
    return None if depth is None else (depth, growth)


def data_age_s(known_until: datetime | None, *, now: datetime | None = None) -> float | None:
    """Seconds since the newest known minute ended (what "data as of" shows next to the time)."""
    if known_until is None:
        return None
    return max(0.0, ((now or timezone.now()) - known_until).total_seconds())
