"""Reads of incidents: the incidents page (open first, then recent resolved), one incident with its
timeline and rules, and the function page's "open incident" banner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from ops.models.alerts import AlertRule, AlertState, Incident, IncidentEvent
from ops.models.choices import IncidentEventKind, IncidentStatus

RESOLVED_SHOWN = 50  # the list's "recent resolved"


@dataclass
class IncidentRow:
    incident: Incident
    duration_s: float

    @property
    def muted(self) -> bool:
        m = self.incident.muted_until
        return m is not None and m > timezone.now()


def incidents_list(*, status: str = "", now: datetime | None = None) -> list[IncidentRow]:
    """Open incidents (newest first), then the last ``RESOLVED_SHOWN`` resolved ones; ``status``
    ("open" / "resolved") keeps one of the two. Two queries at most (incident_status_opened_idx)."""
    now = now or timezone.now()
    rows: list[Incident] = []
    base = Incident.objects.select_related("function", "function__account").order_by("-opened_at", "-id")
    if status in ("", IncidentStatus.OPEN):
        rows += list(base.filter(status=IncidentStatus.OPEN)[:500])
    if status in ("", IncidentStatus.RESOLVED):
        rows += list(base.filter(status=IncidentStatus.RESOLVED)[:RESOLVED_SHOWN])
    return [IncidentRow(i, ((i.resolved_at or now) - i.began_at).total_seconds()) for i in rows]


@dataclass
class RuleNow:
    rule_id: int | None
    name: str
    rule: AlertRule | None = None
    state: AlertState | None = None  # None: the rule was deleted, or its state is gone


@dataclass
class IncidentDetail:
    incident: Incident
    events: list[IncidentEvent]
    rules: list[RuleNow] = field(default_factory=list)
    duration_s: float = 0

    @property
    def muted(self) -> bool:
        m = self.incident.muted_until
        return m is not None and m > timezone.now()


def incident_get(*, pk: int) -> Incident | None:
    return Incident.objects.select_related("function", "function__account").filter(pk=pk).first()


def incident_detail(*, incident: Incident, now: datetime | None = None) -> IncidentDetail:
    """The timeline (with jobs and channels) and each rule involved with its state now (three queries)."""
    now = now or timezone.now()
    events = list(IncidentEvent.objects.filter(incident=incident).select_related("job", "channel").order_by("at", "id"))
    names: dict[int | None, str] = {}
    for e in events:
        if e.kind in (IncidentEventKind.FIRED, IncidentEventKind.REFIRED):
            names.setdefault(e.data.get("rule_id"), e.data.get("rule_name", ""))
    states = {s.rule_id: s for s in AlertState.objects.filter(
        rule_id__in=[r for r in names if r is not None], function_id=incident.function_id,
    ).select_related("rule")}
    rules = []
    for rid, name in names.items():
        s = states.get(rid)
        rules.append(RuleNow(rule_id=rid, name=name, rule=s.rule if s else None, state=s))
    return IncidentDetail(incident=incident, events=events, rules=rules,
                          duration_s=((incident.resolved_at or now) - incident.began_at).total_seconds())


def function_open_incident(*, function_id: int) -> Incident | None:
    """The function's open incident, if any (one query on incident_one_open_per_function)."""
    return Incident.objects.filter(function_id=function_id, scope_key="", status=IncidentStatus.OPEN).first()
