"""The daily budget, shared by every kind of AWS spend the product makes.

AWS_DAILY_BUDGET_USD caps the product's own AWS bill: GetMetricData (per metric requested), Logs
Insights (per GB scanned), X-Ray (per trace retrieved or scanned), SQS requests. Only the metrics
poller can choose how much it spends (its cadence); the others spend what their work needs and
are capped by their own settings (LOGS_SOURCE, TRACES_PER_CYCLE, …). So the budget is shared as:

1. the other kinds' spend over the last 24 hours (ApiUsage, priced by ops.costs.api) is taken
   off the top — what they spent is the best estimate of what they will spend;
2. metrics get the rest, but never less than METRICS_MIN_SHARE of the budget, so a day of heavy
   Logs Insights queries slows detail polling down without stopping it (the aggregates that
   detect an incident cost cents and are always read);
3. each account × region gets a part of the metrics share in proportion to its functions;
4. within a scope, the steady plan (busy and idle cadence) is a daily rate kept within
   1 − DETECT_TRIGGER_RESERVE of it, leaving the rest for triggered one-minute detail;
5. a trigger is short and its cost is money, not a rate: its functions are read every minute as
   long as an hour more of that fits in the scope's part of what is left of today's budget
   (budget − today's spend of every kind − the steady plan for the rest of the day). Re-planned
   every run: a long trigger is stretched as it uses the day up, and none is boosted once
   today's spend has reached the budget;
6. once today's spend has reached the budget, the logs poller reads with FilterLogEvents (not
   billed per request) instead of Logs Insights (billed per GB scanned) until the UTC day ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Sum

from ops.models import ApiUsage, Function

METRICS_MIN_SHARE = 0.1
METRICS_OPERATION = Q(service="cloudwatch", operation="GetMetricData")


@dataclass(frozen=True)
class Share:
    budget_usd: float  # the whole product's daily budget
    other_usd_per_day: float  # every other kind of spend over the last 24 h
    metrics_usd_per_day: float  # what metrics polling may spend, all scopes
    scope_usd_per_day: float  # this scope's part of it
    today_usd: float  # spent today (UTC), all kinds, all scopes
    scope_fraction: float = 1.0  # this scope's functions / all functions
    day_left_s: float = 86400.0  # until the next UTC midnight

    @property
    def exhausted(self) -> bool:
        return self.today_usd >= self.budget_usd

    def trigger_room_usd(self, *, steady_usd_per_day: float) -> float:
        """What this scope may still spend today beyond its steady plan (step 5)."""
        left = (self.budget_usd - self.today_usd) * self.scope_fraction
        return left - steady_usd_per_day * self.day_left_s / 86400


def budget_share(*, account_id: int, region: str, functions_here: int, now: datetime) -> Share:
    """This scope's part of the day's metrics budget (3 small aggregate queries)."""
    budget = float(settings.AWS_DAILY_BUDGET_USD)
    day_ago = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    other = ApiUsage.objects.filter(hour__gte=day_ago).exclude(METRICS_OPERATION).aggregate(usd=Sum("cost_usd"))["usd"] or 0.0
    today = ApiUsage.objects.filter(hour__gte=midnight).aggregate(usd=Sum("cost_usd"))["usd"] or 0.0
    metrics = max(budget - other, budget * METRICS_MIN_SHARE)
    total = Function.objects.filter(account__enabled=True, gone_at=None).count()
    here = max(functions_here, 1)
    fraction = here / max(total, here)
    return Share(budget_usd=budget, other_usd_per_day=round(other, 6), metrics_usd_per_day=round(metrics, 6),
                 scope_usd_per_day=metrics * fraction, today_usd=round(today, 6), scope_fraction=fraction,
                 day_left_s=(midnight + timedelta(days=1) - now).total_seconds())


def budget_spent_today(*, now: datetime) -> bool:
    """Whether today's (UTC) spend of every kind has reached AWS_DAILY_BUDGET_USD (1 query)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = ApiUsage.objects.filter(hour__gte=midnight).aggregate(usd=Sum("cost_usd"))["usd"] or 0.0
    return today >= float(settings.AWS_DAILY_BUDGET_USD)
