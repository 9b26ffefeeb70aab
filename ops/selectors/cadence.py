"""How often the metrics poller reads each function, and why (status page and its drill-down).

The reasons come from what the last metrics run of each scope planned (MetricsCadence), the
scope's active triggers (DetectTrigger) and each function's last invoked minute — the same
facts the run decided on (ops.pollers.metrics.poll), judged here by one pure function,
``cadence_of``, so the page cannot tell a different story from the poller.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from ops.models import AggregateSignal, CadenceReason, DetectTrigger, Function, MetricsCadence
from ops.pollers.rows import ACTIVE_WINDOW

RECENT_TRIGGERS = timedelta(hours=24)


@dataclass(frozen=True)
class Cadence:
    every_s: int | None  # None: no metrics run has planned this scope yet
    reason: str  # CadenceReason
    why: str  # one line for a person


def _signal_label(signal: str) -> str:
    return AggregateSignal(signal).label if signal in AggregateSignal.values else signal


def cadence_of(
    *,
    last_invoked_at: datetime | None,
    now: datetime,
    plan: MetricsCadence | None,
    triggers: list[DetectTrigger],
    region: str,
) -> Cadence:
    """One function's cadence and its reason, as its scope's last metrics run planned it."""
    if plan is None:
        return Cadence(None, CadenceReason.IDLE, "not planned yet: no metrics run for this account × region")
    busy = last_invoked_at is not None and last_invoked_at >= now - ACTIVE_WINDOW
    recent = last_invoked_at is not None and last_invoked_at >= now - timedelta(hours=settings.DETECT_BUSY_HOURS)
    if triggers and recent and plan.triggered_s:
        t = triggers[0]
        cause = f"triggered by {region} {_signal_label(t.signal)} (since {t.started_at:%H:%M} UTC)"
        if plan.triggered_s > settings.METRICS_POLL_SECONDS:
            return Cadence(plan.triggered_s, CadenceReason.HELD_BACK,
                           f"{cause}; held back by budget to every {plan.triggered_s} s")
        return Cadence(plan.triggered_s, CadenceReason.TRIGGERED, cause)
    if busy:
        if plan.held_back and plan.busy_s > settings.METRICS_BUSY_POLL_SECONDS:
            return Cadence(plan.busy_s, CadenceReason.HELD_BACK,
                           f"busy, held back by budget (wanted every {settings.METRICS_BUSY_POLL_SECONDS} s)")
        return Cadence(plan.busy_s, CadenceReason.BUSY, f"busy: invoked {last_invoked_at:%H:%M} UTC, within the last hour")
    last = f"last invoked {last_invoked_at:%Y-%m-%d %H:%M} UTC" if last_invoked_at else "no invocation seen"
    if plan.held_back and plan.idle_s > settings.METRICS_IDLE_POLL_SECONDS:
        return Cadence(plan.idle_s, CadenceReason.HELD_BACK,
                       f"idle ({last}), held back by budget (wanted every {settings.METRICS_IDLE_POLL_SECONDS} s)")
    return Cadence(plan.idle_s, CadenceReason.IDLE, f"idle: {last}; a cheap probe each read")


@dataclass(frozen=True)
class FunctionCadence:
    id: int
    name: str
    account: str
    region: str
    cadence: Cadence


@dataclass
class ScopeCadence:
    account_id: int
    account: str
    region: str
    plan: MetricsCadence | None
    active: list[DetectTrigger] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # reason → functions


def _plans() -> dict[tuple[int, str], MetricsCadence]:
    return {(c.account_id, c.region): c for c in MetricsCadence.objects.all()}


def _active() -> dict[tuple[int, str], list[DetectTrigger]]:
    out: dict[tuple[int, str], list[DetectTrigger]] = defaultdict(list)
    for t in DetectTrigger.objects.filter(released_at=None).order_by("started_at"):
        out[(t.account_id, t.region)].append(t)
    return out


def _live():
    return Function.objects.filter(gone_at=None, account__enabled=True)


def scope_cadences(*, now: datetime) -> list[ScopeCadence]:
    """Per account × region: the plan, the active triggers, and how many functions get each
    reason (4 queries whatever the number of functions: one pass over (scope, last invoked))."""
    plans, active = _plans(), _active()
    scopes: dict[tuple[int, str], ScopeCadence] = {}
    counts: dict[tuple[int, str], Counter] = defaultdict(Counter)
    rows = _live().values_list("account_id", "account__name", "region", "last_invoked_at")
    for account_id, account, region, last in rows.iterator():
        key = (account_id, region)
        if key not in scopes:
            scopes[key] = ScopeCadence(account_id, account, region, plans.get(key), active.get(key, []))
        c = cadence_of(last_invoked_at=last, now=now, plan=plans.get(key), triggers=active.get(key, []), region=region)
        counts[key][c.reason] += 1
    for key, scope in scopes.items():
        scope.counts = {r: counts[key][r] for r in CadenceReason.values if counts[key][r]}
    return sorted(scopes.values(), key=lambda s: (s.account, s.region))


def function_cadences(
    *, now: datetime, account_id: int | None = None, region: str = "", reason: str = "", offset: int = 0, limit: int = 100
) -> tuple[list[FunctionCadence], int]:
    """Functions with their cadence and reason, by account, region, name; (page, total matching).

    The reason is judged in Python (it depends on the plan and the triggers), so a reason filter
    walks the scope's functions: one query, two columns, fine at thousands of functions."""
    plans, active = _plans(), _active()
    qs = _live().select_related("account").order_by("account__name", "region", "name")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if region:
        qs = qs.filter(region=region)
    out: list[FunctionCadence] = []
    total = 0
    for fn in qs.only("id", "name", "region", "last_invoked_at", "account__name", "account_id").iterator():
        key = (fn.account_id, fn.region)
        c = cadence_of(last_invoked_at=fn.last_invoked_at, now=now, plan=plans.get(key), triggers=active.get(key, []),
                       region=fn.region)
        if reason and c.reason != reason:
            continue
        if offset <= total < offset + limit:
            out.append(FunctionCadence(fn.pk, fn.name, fn.account.name, fn.region, c))
        total += 1
    return out, total


def triggers_recent(*, now: datetime, limit: int = 20) -> list[DetectTrigger]:
    """Triggers started in the last 24 hours or still active, newest first (1 query)."""
    from django.db.models import Q

    return list(
        DetectTrigger.objects.filter(Q(started_at__gte=now - RECENT_TRIGGERS) | Q(released_at=None))
        .select_related("account")
        .order_by("-started_at")[:limit]
    )
