"""The product's own AWS spend, for the status page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum

from ops.models import ApiUsage, MetricsCadence


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
class ApiSpend:
    today_usd: float
    last_24h_usd: float
    by_operation: list[OperationSpend]
    budget_usd: float
    projected_usd_per_day: float
    cadences: list[ScopeCadence]

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
    return ApiSpend(
        today_usd=today,
        last_24h_usd=sum(o.cost_usd for o in by_op),
        by_operation=by_op,
        budget_usd=float(settings.CLOUDWATCH_DAILY_BUDGET_USD),
        projected_usd_per_day=round(sum(c.usd_per_day for c in cadences), 4),
        cadences=cadences,
    )
