"""What one metrics run reads: a target per function (its series, its aliases, and every
version an alias points to or pointed to within VERSION_HISTORY) and one for the scope
(region-level concurrency and the known DLQs).

Every version, not only those behind a weighted alias: after ``live → v9`` the page must put
v9 (all the traffic) beside v8 (the version it replaced, whose minutes before the switch a new
target backfills). A version leaves the reads VERSION_HISTORY after its alias left it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from ops.aws.cloudwatch import MetricQuery

from ops.models import DLQ_ROLES, Alias, AliasChange, Function, FunctionQueue, MinuteStat, Series, SeriesKind
from ops.pollers.base import PollContext
from ops.pollers.metrics import plan

SCOPE_KEY = "scope"
VERSION_HISTORY = timedelta(hours=24)
TRAFFIC_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Sink:
    table: str  # "minute" | "region" | "queue"
    ref: int | None  # series id, queue id, None for the region
    column: str


@dataclass
class Target:
    key: str
    function_id: int | None = None
    name: str = ""
    queries: list[MetricQuery] = field(default_factory=list)
    sinks: list[Sink] = field(default_factory=list)
    probe: Target | None = None  # the cheap set read while the function is idle

    def add(self, query: MetricQuery, sink: Sink) -> None:
        self.queries.append(query)
        self.sinks.append(sink)


def _series_ids(keys: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
    """Ensure a Series row per (function id, kind, qualifier); return their ids."""
    if not keys:
        return {}
    Series.objects.bulk_create(
        [Series(function_id=f, kind=k, qualifier=q) for f, k, q in keys], ignore_conflicts=True
    )
    fids = {f for f, _, _ in keys}
    return {
        (s.function_id, s.kind, s.qualifier): s.pk
        for s in Series.objects.filter(function_id__in=fids).only("id", "function_id", "kind", "qualifier")
    }


def _alias_traffic(functions: list[Function]) -> dict[tuple[int, str], float]:
    """(function id, alias name) → invocations through it in the last hour (one query)."""
    rows = (
        MinuteStat.objects.filter(
            series__function__in=functions, series__kind=SeriesKind.ALIAS, ts__gte=timezone.now() - TRAFFIC_WINDOW
        )
        .values_list("series__function_id", "series__qualifier")
        .annotate(n=Sum("invocations"))
    )
    return {(fid, name): n or 0 for fid, name, n in rows}


def _alias_versions(functions: list[Function], aliases: dict[int, list[Alias]]) -> dict[int, dict[str, str]]:
    """function id → {version: the alias to read it through}: each alias's routing now, then
    the versions its recent history names (two queries).

    ExecutedVersion is a dimension under each alias (Resource), and a version's series is read
    through one of them: the one its traffic takes. So aliases are tried busiest first (last
    hour), then weighted ones (a canary's second version carries the traffic there), then by name.
    """
    traffic = _alias_traffic(functions)
    out: dict[int, dict[str, str]] = {fn.pk: {} for fn in functions}
    for fn in functions:
        ranked = sorted(aliases[fn.pk], key=lambda a: (-traffic.get((fn.pk, a.name), 0), not a.weights, a.name))
        for a in ranked:
            for version, _share in a.routing:
                out[fn.pk].setdefault(version, a.name)
    live = {a.pk: a for fn in functions for a in aliases[fn.pk]}
    recent = (
        AliasChange.objects.filter(alias_id__in=list(live), at__gte=timezone.now() - VERSION_HISTORY)
        .order_by("at")
        .values_list("alias_id", "from_version", "from_weights", "to_version", "to_weights")
    )
    for alias_id, from_v, from_w, to_v, to_w in recent:
        a = live[alias_id]
        for version in [from_v, *(from_w or {}), to_v, *(to_w or {})]:
            if version:
                out[a.function_id].setdefault(str(version), a.name)
    return out


def build_targets(ctx: PollContext, functions: list[Function], percentiles) -> list[Target]:
    aliases: dict[int, list[Alias]] = defaultdict(list)
    for a in Alias.objects.filter(function__in=functions, gone_at=None).order_by("name"):
        aliases[a.function_id].append(a)
    versions = _alias_versions(functions, aliases)
    wanted: set[tuple[int, str, str]] = set()
    for fn in functions:
        wanted.add((fn.pk, SeriesKind.FUNCTION, ""))
        for a in aliases[fn.pk]:
            wanted.add((fn.pk, SeriesKind.ALIAS, a.name))
        for version in versions[fn.pk]:
            wanted.add((fn.pk, SeriesKind.VERSION, version))
    ids = _series_ids(wanted)
    targets = []
    for fn in functions:
        t = Target(key=str(fn.pk), function_id=fn.pk, name=fn.name)
        stream = any(e.source_kind in plan.STREAM_SOURCES and e.gone_at is None for e in fn.event_sources.all())
        provisioned = bool(fn.provisioned_concurrency)
        sid = ids[(fn.pk, SeriesKind.FUNCTION, "")]
        for spec in plan.function_specs(percentiles=percentiles, stream=stream, provisioned=provisioned):
            t.add(plan.lambda_query(spec, plan.function_dims(fn.name)), Sink("minute", sid, spec.column))
        if not provisioned:  # provisioned concurrency reports utilisation even when idle
            t.probe = Target(key=t.key, function_id=fn.pk, name=fn.name)
            for spec in plan.PROBE:
                t.probe.add(plan.lambda_query(spec, plan.function_dims(fn.name)), Sink("minute", sid, spec.column))
        for a in aliases[fn.pk]:
            sid = ids[(fn.pk, SeriesKind.ALIAS, a.name)]
            for spec in plan.alias_specs(percentiles=percentiles, provisioned=provisioned):
                t.add(plan.lambda_query(spec, plan.alias_dims(fn.name, a.name)), Sink("minute", sid, spec.column))
        for version, alias_name in versions[fn.pk].items():
            sid = ids[(fn.pk, SeriesKind.VERSION, version)]
            for spec in plan.version_specs(percentiles=percentiles):
                dims = plan.version_dims(fn.name, alias_name, version)
                t.add(plan.lambda_query(spec, dims), Sink("minute", sid, spec.column))
        targets.append(t)

    scope = Target(key=SCOPE_KEY)
    for spec in plan.REGION:
        scope.add(MetricQuery(plan.LAMBDA, spec.metric, (), spec.stat), Sink("region", None, spec.column))
    links = (
        FunctionQueue.objects.filter(function__in=functions, role__in=DLQ_ROLES, queue__gone_at=None)
        .select_related("queue")
        .order_by("queue_id")
    )
    seen: set[int] = set()
    for link in links:
        q = link.queue
        if q.pk in seen:
            continue
        seen.add(q.pk)
        if q.region != ctx.region:
            continue  # AWS/SQS metrics live in the queue's own region, polled with that scope
        for spec in plan.QUEUE:
            scope.add(MetricQuery(plan.SQS, spec.metric, (("QueueName", q.name),), spec.stat), Sink("queue", q.pk, spec.column))
    targets.append(scope)
    return targets
