"""Reads for the alert rule pages and the status page's evaluation panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from ops.models import AlertRule, AlertState, AlertTick, Function
from ops.models.choices import AlertStateName


@dataclass(frozen=True)
class TickSummary:
    tick: AlertTick | None
    lag_s: float | None  # now − the last finished tick's data_until: how old the judged data is
    age_s: float | None  # now − the last tick's start

    @property
    def never(self) -> bool:
        return self.tick is None


def alert_tick_summary(*, now: datetime | None = None) -> TickSummary:
    """The last tick and the evaluation lag (one query on alerttick_started_idx)."""
    now = now or timezone.now()
    tick = AlertTick.objects.order_by("-started_at", "-id").first()
    if tick is None:
        return TickSummary(tick=None, lag_s=None, age_s=None)
    lag = None if tick.data_until is None else max(0.0, (now - tick.data_until).total_seconds())
    return TickSummary(tick=tick, lag_s=lag, age_s=max(0.0, (now - tick.started_at).total_seconds()))


def alert_rules_with_counts() -> list[AlertRule]:
    """Every rule with how many targets are pending and firing now (one query)."""
    return list(
        AlertRule.objects.select_related("function", "account")
        .annotate(
            n_pending=Count("states", filter=Q(states__state=AlertStateName.PENDING)),
            n_firing=Count("states", filter=Q(states__state=AlertStateName.FIRING)),
        )
        .order_by("-enabled", "name", "id")
    )


def alert_rule_states(*, rule: AlertRule, limit: int = 50) -> list[AlertState]:
    """The rule's pending and firing targets, firing first, newest change first."""
    return list(
        AlertState.objects.filter(rule=rule).exclude(state__in=[AlertStateName.OK, AlertStateName.RESOLVED])
        .select_related("function").order_by("state", "-since")  # "firing" < "pending"[:limit]
    )


def functions_for_select(*, limit: int = 2000) -> list[tuple[int, str]]:
    """Live functions as (pk, "account/region/name") for a rule's function select."""
    return [
        (pk, f"{acct}/{region}/{name}")
        for pk, acct, region, name in Function.objects.filter(gone_at__isnull=True)
        .order_by("account__name", "region", "name").values_list("pk", "account__name", "region", "name")[:limit]
    ]
