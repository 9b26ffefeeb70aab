"""The product's own AWS spend, for the status page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum

from ops.models import ApiUsage, MetricsCadence
from ops.pollers.metrics.budget import METRICS_MIN_SHARE


@dataclass(frozen=True)
class OperationSpend:
    service: str
    operation: str
    calls: int
    units: int
    cost_usd: float


@dataclass(frozen=True)
class ScopeCadence:
    label: str
    busy_s: int
    idle_s: int
    usd_per_day: float


@dataclass(frozen=True)
class KindSpend:
    """Today's spend of one kind the budget covers, with its billed unit."""

    kind: str
    units: float
    unit: str
    cost_usd: float


# (service, operation or None for any) → (kind, billed unit, how the unit is counted)
_KINDS = (
    (("cloudwatch", "GetMetricData"), ("metrics (GetMetricData)", "metrics requested", "units")),
    (("logs", None), ("Logs Insights", "GB scanned", "gb")),
    (("xray", None), ("X-Ray", "traces retrieved or scanned", "traces")),
    (("sqs", None), ("SQS", "requests", "calls")),
)
_OTHER = ("other API requests", "requests", "calls")


def _kind(service: str, operation: str) -> tuple[str, str, str]:
    for (svc, op), kind in _KINDS:
        if svc == service and op in (None, operation):
            return kind
    return _OTHER


def spend_by_kind(*, since: datetime) -> list[KindSpend]:
    """Spend since ``since`` per kind (1 query), in the order the budget lists them."""
    rows = (
        ApiUsage.objects.filter(hour__gte=since)
        .values("service", "operation")
        .annotate(calls=Sum("calls"), units=Sum("units"), scanned=Sum("bytes_scanned"), usd=Sum("cost_usd"))
    )
    acc: dict[str, list] = {}
    for r in rows:
        kind, unit, how = _kind(r["service"], r["operation"])
        n = {"units": r["units"], "gb": (r["scanned"] or 0) / 1e9, "traces": (r["units"] or 0) + (r["scanned"] or 0),
             "calls": r["calls"]}[how] or 0
        entry = acc.setdefault(kind, [unit, 0.0, 0.0])
        entry[1] += n
        entry[2] += r["usd"] or 0.0
    order = [k[0] for _, k in _KINDS] + [_OTHER[0]]
    return [KindSpend(k, round(acc[k][1], 6), acc[k][0], round(acc[k][2], 6)) for k in order if k in acc]


@dataclass(frozen=True)
class ApiSpend:
    today_usd: float
    last_24h_usd: float
    by_operation: list[OperationSpend]
    budget_usd: float
    projected_usd_per_day: float
    cadences: list[ScopeCadence]
    by_kind_today: list[KindSpend] = ()
    other_24h_usd: float = 0.0  # every kind but GetMetricData, last 24 h: taken off the budget first
    metrics_share_usd: float = 0.0  # what metrics polling may spend a day after that

    @property
    def over_budget(self) -> bool:
        return self.projected_usd_per_day > self.budget_usd


def api_spend(*, now: datetime) -> ApiSpend:
    """Today's (UTC) spend, the last 24 hours by operation, and the metrics pollers' projection."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_ago = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    today = ApiUsage.objects.filter(hour__gte=midnight).aggregate(usd=Sum("cost_usd"))["usd"] or 0.0
    rows = (
        ApiUsage.objects.filter(hour__gte=day_ago)
        .values("service", "operation")
        .annotate(calls=Sum("calls"), units=Sum("units"), usd=Sum("cost_usd"))
        .order_by("-usd", "-calls", "service", "operation")
    )
    by_op = [OperationSpend(r["service"], r["operation"], r["calls"], r["units"], r["usd"]) for r in rows]
    cadences = [
        ScopeCadence(f"{c.account.name}/{c.region}", c.busy_s, c.idle_s, c.usd_per_day)
        for c in MetricsCadence.objects.select_related("account")
    ]
    budget = float(settings.AWS_DAILY_BUDGET_USD)
    other = sum(o.cost_usd for o in by_op if (o.service, o.operation) != ("cloudwatch", "GetMetricData"))
    return ApiSpend(
        today_usd=today,
        last_24h_usd=sum(o.cost_usd for o in by_op),
        by_operation=by_op,
        budget_usd=budget,
        projected_usd_per_day=round(sum(c.usd_per_day for c in cadences), 4),
        cadences=cadences,
        by_kind_today=spend_by_kind(since=midnight),
        other_24h_usd=round(other, 6),
        metrics_share_usd=round(max(budget - other, budget * METRICS_MIN_SHARE), 6),
    )
