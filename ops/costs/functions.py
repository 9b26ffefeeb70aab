"""Per-function cost over a period, and the right-sizing hint (selectors: read-only).

GB-seconds per minute row: REPORT's billed GB-s when the logs poller saw the invocations,
scaled up by invocations ÷ reports when CloudWatch counted more invocations than REPORT lines
were read; otherwise CloudWatch's Duration average × invocations × configured memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, F, FloatField, Max, Q, Sum, When
from django.db.models.functions import Coalesce, Greatest

from ops.costs.model import cost_per_million, lambda_cost
from ops.costs.pricing import price_for
from ops.models import Function, MinuteStat, SeriesKind

RIGHTSIZING_DAYS = 7
MIN_MEMORY_MB = 128
HEADROOM = 1.25  # keep a quarter above the highest use seen


@dataclass(frozen=True)
class FunctionCost:
    invocations: int
    gb_seconds: float
    from_reports: bool  # True when every minute with invocations had REPORT data
    usd: float
    usd_per_million: float | None


def _gb_s_expression(memory_mb: int):
    estimated = Coalesce(F("duration_avg"), 0.0) * F("invocations") / 1000.0 * (memory_mb / 1024.0)
    scaled = F("billed_gb_s") * Greatest(F("invocations"), F("reports")) * 1.0 / F("reports")
    return Case(When(reports__gt=0, then=scaled), default=estimated, output_field=FloatField())


def function_cost(*, function: Function, since: datetime, until: datetime) -> FunctionCost:
    rows = MinuteStat.objects.filter(
        series__function=function, series__kind=SeriesKind.FUNCTION, ts__gte=since, ts__lt=until
    ).aggregate(
        n_invocations=Coalesce(Sum("invocations"), 0),
        n_reports=Coalesce(Sum("reports"), 0),
        gb_s=Coalesce(Sum(_gb_s_expression(function.memory_mb)), 0.0),
        estimated=Coalesce(Sum("invocations", filter=Q(reports=0, invocations__gt=0)), 0),
    )
    n = max(rows["n_invocations"], rows["n_reports"])
    usd = lambda_cost(region=function.region, architecture=function.architecture, requests=n, gb_seconds=rows["gb_s"])
    return FunctionCost(
        invocations=n,
        gb_seconds=rows["gb_s"],
        from_reports=rows["estimated"] == 0,
        usd=usd,
        usd_per_million=cost_per_million(cost_usd=usd, invocations=n),
    )


@dataclass(frozen=True)
class RightsizingHint:
    configured_mb: int
    max_used_mb: int
    suggested_mb: int
    monthly_saving_usd: float
    basis_days: int
    reports: int
    note: str


def rightsizing_hint(*, function: Function, now: datetime) -> RightsizingHint | None:
    """A smaller memory size when the max memory used over 7 days stays under
    RIGHTSIZING_MEMORY_THRESHOLD of the configured size, with the saving per month.

    1. Read the week's max memory used, billed GB-s and REPORT count (function series).
    2. No REPORT lines, or use above the threshold: no hint.
    3. Suggest the max used × 1.25 rounded up to 64 MB (never below 128 MB).
    4. Saving = the week's billed GB-s × (1 − suggested ÷ configured), scaled to 30 days, at the
       first-tier duration rate — assuming duration stays the same with less memory, which is
       not guaranteed (CPU share scales with memory); the note says so.
    """
    since = now - timedelta(days=RIGHTSIZING_DAYS)
    agg = MinuteStat.objects.filter(
        series__function=function, series__kind=SeriesKind.FUNCTION, ts__gte=since, ts__lt=now
    ).aggregate(used=Max("memory_used_max_mb"), gb_s=Coalesce(Sum("billed_gb_s"), 0.0), n_reports=Coalesce(Sum("reports"), 0))
    configured = function.memory_mb
    if not agg["n_reports"] or agg["used"] is None or not configured:
        return None
    if agg["used"] >= settings.RIGHTSIZING_MEMORY_THRESHOLD * configured:
        return None
    suggested = max(MIN_MEMORY_MB, int(math.ceil(agg["used"] * HEADROOM / 64.0)) * 64)
    if suggested >= configured:
        return None
    price = price_for(region=function.region, architecture=function.architecture)
    saving = agg["gb_s"] * (1 - suggested / configured) * (30 / RIGHTSIZING_DAYS) * price.gb_second_usd
    return RightsizingHint(
        configured_mb=configured,
        max_used_mb=int(agg["used"]),
        suggested_mb=suggested,
        monthly_saving_usd=round(saving, 2),
        basis_days=RIGHTSIZING_DAYS,
        reports=int(agg["n_reports"]),
        note="Assumes the same duration at the smaller size; CPU scales with memory, so measure after the change.",
    )
