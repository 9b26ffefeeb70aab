"""Reads of the pollers' health: every scope × source with its state (ops.pollers.health), the
summary /healthz answers with, and whether one function's numbers stop short of now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ops.models import Function, MinuteStat, PollSource, PollState, Series, SeriesKind
from ops.pollers.health import PollHealth, poll_health, worst
from ops.selectors.inventory import poll_statuses

# The sources whose lag means a function's numbers are behind (the charts come from these).
TELEMETRY_SOURCES = (PollSource.METRICS, PollSource.LOGS)


def poll_healths(*, now: datetime) -> list[PollHealth]:
    """Every status row with its state, by account, region, source (1 query)."""
    return [poll_health(st, now=now) for st in poll_statuses()]


@dataclass(frozen=True)
class HealthSummary:
    state: str  # the product's: the worst product_state of any scope × source
    since: datetime | None  # the earliest start of that state among the scopes in it
    sources: dict[str, dict]
    not_ok: list[PollHealth]


def health_summary(*, now: datetime) -> HealthSummary:
    """The product's state (the worst of every scope × source's, an optional source's failing
    counting as degraded), since when, counts per source, and the scopes that are not ok."""
    healths = poll_healths(now=now)
    sources: dict[str, dict] = {}
    for h in healths:
        entry = sources.setdefault(
            h.source, {"required": h.required, "scopes": 0, **{s: 0 for s in PollState.values},
                       "oldest_success_age_s": None, "max_lag_s": None}
        )
        entry["scopes"] += 1
        entry[h.state] += 1
        if h.last_success_at:
            age = max(0, round((now - h.last_success_at).total_seconds()))
            entry["oldest_success_age_s"] = max(age, entry["oldest_success_age_s"] or 0)
        if h.lag_s is not None:
            entry["max_lag_s"] = max(h.lag_s, entry["max_lag_s"] or 0)
    order = {PollState.FAILING: 0, PollState.DEGRADED: 1}
    not_ok = sorted((h for h in healths if not h.ok), key=lambda h: (order[h.state], h.account.name, h.region, h.source))
    state = worst(h.product_state for h in healths)
    since = min((h.since for h in healths if h.product_state == state and h.since), default=None)
    return HealthSummary(state=state, since=since, sources=sources, not_ok=not_ok)


@dataclass(frozen=True)
class DataBehind:
    """A function's numbers stop short of now because its scope's telemetry polling is failing
    or lagging: which source, why, and the function's own newest stored minute."""

    health: PollHealth
    newest_minute: datetime | None


def function_behind(*, function: Function, healths: list[PollHealth]) -> DataBehind | None:
    """None unless the function's metrics or logs polling is failing or behind (then 1 query)."""
    behind = [h for h in healths if h.source in TELEMETRY_SOURCES and h.behind]
    if not behind:
        return None
    worst_first = sorted(behind, key=lambda h: (h.state != PollState.FAILING, h.source != PollSource.METRICS))
    newest = (
        MinuteStat.objects.filter(
            series__in=Series.objects.filter(function=function, kind=SeriesKind.FUNCTION, qualifier="")
        )
        .order_by("-ts")
        .values_list("ts", flat=True)
        .first()
    )
    return DataBehind(health=worst_first[0], newest_minute=newest)
