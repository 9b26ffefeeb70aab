"""The function page's reads: series for the charts, totals, per-version comparison, deploy
markers, error groups, the "what changed" line and the right-sizing hint.

Query count is fixed (about a dozen) whatever the function's history or version count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from ops.models import (
    AliasChange,
    AliasChangeSource,
    Change,
    ErrorGroup,
    Function,
    PollSource,
    PollStatus,
    Series,
    SeriesKind,
)
from ops.pollers.health import PollHealth, poll_health
from ops.rules import cost as cost_rule
from ops.rules import rightsizing as rightsizing_rule
from ops.rules.episode import onset
from ops.rules.rightsizing import RightSizing
from ops.rules.signals import ERROR_RATE
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.now import NowState, data_age_s, function_now
from ops.selectors.telemetry import ALL_COLUMNS, SeriesData, rate, series_buckets, series_known_until, series_totals
from ops.selectors.timerange import TimeRange

DEPLOY_LINK_MINUTES = 60  # an error onset within this long after a deploy is attributed to it
# A deploy this soon after an onset that at least doubles the error rate is the episode's cause.
DEPLOY_GRACE_MINUTES = 5

VERSION_COLUMNS = ("invocations", "errors", "throttles", "duration_p99", "cold_starts", "reports")
# The page's totals: the version columns, two peaks, and what the cost rule reads.
_TOTAL_COLUMNS = tuple(
    dict.fromkeys((*VERSION_COLUMNS, "concurrency_max", "memory_used_max_mb", *cost_rule.TOTAL_COLUMNS))
)


@dataclass
class Totals:
    invocations: float = 0
    errors: float = 0
    throttles: float = 0
    cold_starts: float = 0
    reports: float = 0
    duration_p99: float | None = None
    concurrency_max: float | None = None
    memory_used_max_mb: float | None = None
    cost_usd: float = 0
    cost_estimated: bool = False  # some minutes had no REPORT lines: Duration × memory stands in
    # The minutes at and after ``known_until`` are not known yet (not polled, or their poll
    # failed): the sums stop there; ``incomplete`` says the range reaches past them by more than
    # a poll cycle (the current minute is never known, so that alone does not count).
    known_until: datetime | None = None
    incomplete: bool = False

    @property
    def error_rate(self) -> float | None:
        return rate(self.errors, self.invocations)

    @property
    def cold_pct(self) -> float | None:
        return rate(self.cold_starts, self.reports)


@dataclass
class VersionStats:
    version: str
    series_id: int
    totals: Totals
    data: SeriesData | None = None

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else 0


@dataclass
class WhatChanged:
    since: datetime | None = None
    throughout: bool = False  # errors from the first bucket of the range
    baseline_rate: float | None = None
    current_rate: float | None = None
    deploy: AliasChange | None = None
    minutes_after_deploy: int | None = None
    versions: list[VersionStats] = field(default_factory=list)
    # With a deploy: the version it made primary, then the one it replaced (either may be
    # missing when no metrics exist for it).
    compared: list[VersionStats] = field(default_factory=list)
    top_group: ErrorGroup | None = None


@dataclass
class FunctionData:
    function: Function
    time_range: TimeRange
    data: SeriesData | None  # the function-level series, bucketed
    totals: Totals
    versions: list[VersionStats]
    deploys: list[AliasChange]
    error_groups: list[ErrorGroup]
    what_changed: WhatChanged
    rightsizing: RightSizing | None
    metrics_status: PollStatus | None
    problems: list[PollHealth]  # the scope's sources that are failing, or whose last run failed
    scope_health: list[PollHealth]  # every source of the function's account × region
    concurrency_limit: int
    now: NowState = field(default_factory=lambda: NowState(known_until=None))

    @property
    def as_of(self) -> datetime | None:
        """The end of the newest minute known for this function ("data as of")."""
        return self.now.known_until

    @property
    def as_of_age_s(self) -> float | None:
        return data_age_s(self.as_of)

    @property
    def not_polled(self) -> bool:
        return self.metrics_status is None or self.metrics_status.last_success_at is None

    @property
    def weighted(self) -> bool:
        return any(a.weights for a in self.function.aliases.all())


def incomplete(*, known_until: datetime | None, end: datetime) -> bool:
    """Whether totals up to ``end`` miss known-not-yet minutes beyond the usual live edge (the
    current minute and one poll cycle)."""
    if known_until is None:
        return True
    edge = timedelta(seconds=settings.METRICS_POLL_SECONDS) + timedelta(minutes=1)
    return end - known_until > edge


def _totals(fn: Function, t: dict, *, known_until: datetime | None = None, end: datetime | None = None) -> Totals:
    cost = cost_rule.total_cost(region=fn.region, architecture=fn.architecture, memory_mb=fn.memory_mb, totals=t)
    return Totals(
        known_until=known_until,
        incomplete=end is not None and incomplete(known_until=known_until, end=end),
        invocations=t.get("invocations") or 0,
        errors=t.get("errors") or 0,
        throttles=t.get("throttles") or 0,
        cold_starts=t.get("cold_starts") or 0,
        reports=t.get("reports") or 0,
        duration_p99=t.get("duration_p99"),
        concurrency_max=t.get("concurrency_max"),
        memory_used_max_mb=t.get("memory_used_max_mb"),
        cost_usd=cost.usd,
        cost_estimated=cost.estimated,
    )


def function_series_map(*, function: Function) -> tuple[Series | None, dict[str, Series]]:
    """The function-level series and the per-version series (version → Series)."""
    fn_series, versions = None, {}
    for s in Series.objects.filter(function=function, kind__in=[SeriesKind.FUNCTION, SeriesKind.VERSION]):
        if s.kind == SeriesKind.FUNCTION and not s.qualifier:
            fn_series = s
        elif s.kind == SeriesKind.VERSION:
            versions[s.qualifier] = s
    return fn_series, versions


def function_data(*, function: Function, time_range: TimeRange, now: datetime | None = None) -> FunctionData:
    """Everything the function page shows for ``time_range`` (``function`` from function_header)."""
    now = now or timezone.now()
    fn_series, version_series = function_series_map(function=function)
    ids = ([fn_series.id] if fn_series else []) + [s.id for s in version_series.values()]
    # Every series of the function shares its known-until (one target per function); a query
    # only where the poller has not published it.
    if function.metrics_known_until is not None:
        known = {sid: function.metrics_known_until for sid in ids}
    else:
        known = series_known_until(series_ids=ids)
    fn_known = known.get(fn_series.id) if fn_series else None
    concurrency_limit = function.reserved_concurrency or account_concurrency_limit()

    buckets = series_buckets(series_ids=ids, time_range=time_range, columns=ALL_COLUMNS, known_until=known) if ids else {}
    totals_raw = series_totals(
        series_ids=ids,
        start=time_range.start,
        end=time_range.end,
        columns=_TOTAL_COLUMNS,
    )
    data = buckets.get(fn_series.id) if fn_series else None
    end = time_range.end
    totals = _totals(function, totals_raw[fn_series.id], known_until=fn_known, end=end) if fn_series else Totals()
    versions = sorted(
        (
            VersionStats(
                version=v,
                series_id=s.id,
                totals=_totals(function, totals_raw[s.id], known_until=known.get(s.id), end=end),
                data=buckets.get(s.id),
            )
            for v, s in version_series.items()
        ),
        key=lambda vs: (-vs.number, vs.version),
    )
    deploys = list(
        AliasChange.objects.filter(function=function, at__gte=time_range.start, at__lt=time_range.end)
        .exclude(source=AliasChangeSource.CREATED)
        .select_related("alias", "actor")
        .order_by("at")
    )
    groups = error_groups(function=function, time_range=time_range)
    statuses = list(PollStatus.objects.filter(account_id=function.account_id, region=function.region))
    metrics_status = next((s for s in statuses if s.source == PollSource.METRICS), None)
    scope_health = [poll_health(s, now=now) for s in statuses]
    problems = [h for h in scope_health if h.problem]
    now_state = function_now(function=function, series=fn_series, concurrency_limit=concurrency_limit, known_until=fn_known)
    wc = what_changed(data=data, totals=totals, deploys=deploys, versions=versions, groups=groups)
    _align_with_now(wc, now_state, time_range=time_range)
    return FunctionData(
        function=function,
        time_range=time_range,
        data=data,
        totals=totals,
        versions=versions,
        deploys=deploys,
        error_groups=groups,
        what_changed=wc,
        rightsizing=rightsizing(function=function, series=fn_series, now=now),
        metrics_status=metrics_status,
        problems=problems,
        scope_health=scope_health,
        concurrency_limit=concurrency_limit,
        now=now_state,
    )


def _align_with_now(wc: "WhatChanged", now: NowState, *, time_range: TimeRange) -> None:
    """When the error rate is on fire now, "errors began" is that episode's onset (to the minute,
    whatever the range's bucket size), with its deploy and baseline: the page says what the
    overview says."""
    ep = now.episode
    if ep is None or ep.signal is not ERROR_RATE or ep.since is None:
        return
    wc.since = ep.since
    wc.throughout = ep.since <= time_range.start
    wc.baseline_rate = ep.baseline_value
    wc.deploy, wc.minutes_after_deploy = now.deploy, now.minutes_after_deploy


def last_deploy(*, function: Function) -> AliasChange | None:
    """The latest alias change (not a first sighting), with its alias (one query)."""
    return (
        AliasChange.objects.filter(function=function)
        .exclude(source=AliasChangeSource.CREATED)
        .select_related("alias", "actor")
        .order_by("-at")
        .first()
    )


def function_changes(*, function: Function, time_range: TimeRange, limit: int = 20) -> list[Change]:
    """The function's CloudTrail changes in the range, newest first (one query)."""
    return list(
        Change.objects.filter(function=function, at__gte=time_range.start, at__lt=time_range.end).order_by("-at")[:limit]
    )


def error_groups(*, function: Function, time_range: TimeRange, limit: int = 10) -> list[ErrorGroup]:
    """The function's error groups seen in the range, most frequent first, ``in_range`` = count."""
    in_range = Q(errorminute__ts__gte=time_range.start, errorminute__ts__lt=time_range.end)
    return list(
        ErrorGroup.objects.filter(function=function)
        .annotate(in_range=Sum("errorminute__count", filter=in_range, default=0))
        .filter(Q(in_range__gt=0) | Q(last_seen__gte=time_range.start, first_seen__lt=time_range.end))
        .order_by("-in_range", "-last_seen")[:limit]
    )


def what_changed(
    *,
    data: SeriesData | None,
    totals: Totals,
    deploys: list[AliasChange],
    versions: list[VersionStats],
    groups: list[ErrorGroup],
) -> WhatChanged:
    """The one-line summary: when errors began, the deploy just before, versions, top group.

    1. Find the current error episode in the bucketed series (``signals.onset``).
    2. Attribute it to the last alias change at or before its start, if within an hour, or to
       one a few minutes into it that made it much worse (the episode then starts there); and
       compare the version it made primary with the one it replaced.
    3. List the versions that served traffic in the range with their error rates.
    """
    out = WhatChanged(current_rate=totals.error_rate, top_group=groups[0] if groups else None)
    out.versions = [v for v in versions if v.totals.invocations or v.totals.errors]
    if data is None or not len(data):
        return out
    since, baseline = onset(data)
    if since is None:
        return out
    out.since, out.baseline_rate = since, baseline
    out.throughout = since == data.ts[0]
    if not out.throughout:
        window_end = since + timedelta(seconds=data.step_s)
        before = [d for d in deploys if d.at <= window_end and since - d.at <= timedelta(minutes=DEPLOY_LINK_MINUTES)]
        deploy = before[-1] if before else _deploy_inside(data, since, deploys)
        if deploy is not None:
            out.deploy = deploy
            if not before:
                out.since = _bucket_of(data, deploy.at)
                i = data.ts.index(out.since)
                errors, calls = data["errors"][:i], data["invocations"][:i]
                out.baseline_rate = rate(sum(e or 0 for e in errors), sum(n or 0 for n in calls))
            out.minutes_after_deploy = max(0, round((out.since - deploy.at).total_seconds() / 60))
            by_version = {v.version: v for v in versions}
            pair = (deploy.to_version, deploy.from_version)
            out.compared = [by_version[v] for v in dict.fromkeys(pair) if v in by_version]
    return out


def _bucket_of(data: SeriesData, at: datetime) -> datetime:
    return max((ts for ts in data.ts if ts <= at), default=data.ts[0])


def _deploy_inside(data: SeriesData, since: datetime, deploys: list[AliasChange]) -> AliasChange | None:
    """A deploy a few minutes into the episode that made it much worse: a stray error or two
    just before a bad deploy must not hide the deploy. The episode then starts at its bucket."""
    grace = since + timedelta(minutes=DEPLOY_GRACE_MINUTES)
    inv, err = data["invocations"], data["errors"]
    start = data.ts.index(since)
    for d in reversed([d for d in deploys if since < d.at <= grace]):
        i = data.ts.index(_bucket_of(data, d.at))
        rate_before = rate(sum(e or 0 for e in err[start:i]), sum(n or 0 for n in inv[start:i]))
        rate_after = rate(sum(e or 0 for e in err[i:]), sum(n or 0 for n in inv[i:]))
        if rate_after is not None and (rate_before is None or rate_after >= 2 * rate_before):
            return d
    return None


def rightsizing(*, function: Function, series: Series | None, now: datetime) -> RightSizing | None:
    """The right-sizing rule (``ops.rules.rightsizing``) over the function's last week: the
    series' peak memory use and the out-of-memory errors its logs showed (two queries)."""
    if series is None:
        return None
    start = now - rightsizing_rule.WINDOW
    t = series_totals(series_ids=[series.id], start=start, end=now, columns=rightsizing_rule.COLUMNS)[series.id]
    in_window = Q(errorminute__ts__gte=start, errorminute__ts__lt=now)
    oom = sum(
        g.in_window
        for g in ErrorGroup.objects.filter(function=function, last_seen__gte=start)
        .annotate(in_window=Sum("errorminute__count", filter=in_window, default=0))
        .only("error_type", "message")
        if rightsizing_rule.is_out_of_memory(error_type=g.error_type, message=g.message)
    )
    return rightsizing_rule.rightsizing_of(
        totals=t, memory_mb=function.memory_mb, region=function.region, architecture=function.architecture,
        oom_errors=oom,
    )
