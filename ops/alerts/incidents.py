"""The incident processor: turns the evaluator's state changes (AlertFlip rows) into incidents,
their timelines and notification rounds.

A flip is claimed exactly once by a conditional UPDATE on ``processed_at`` (STYLE rule 8); the
whole batch runs in one transaction, so a claimed flip's incident, events and outbox rows commit
with the claim or not at all, and two processors running at once never open two incidents or
ask for two notification rounds. Repeats and related rules on the same function group into its
one open incident (the partial unique constraint ``incident_one_open_per_function``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ops.alerts.acks import incident_acknowledge, incident_mute, incident_unmute  # noqa: F401  (the services' home)
from ops.models import DLQ_ROLES, Job, Queue
from ops.models.alerts import AlertFlip, AlertRule, AlertState, Incident, IncidentEvent
from ops.models.choices import (
    AlertSeverity,
    AlertStateName,
    IncidentEventKind,
    IncidentStatus,
    NotificationKind,
)

log = logging.getLogger(__name__)

SEVERITY_RANK = {AlertSeverity.CRITICAL: 3, AlertSeverity.WARNING: 2, AlertSeverity.INFO: 1}
ACTIVE_STATES = (AlertStateName.FIRING, AlertStateName.PENDING)
# How far back the function's now state may place an onset before the rule's first breaching
# window: further than this is a different, older episode.
ONSET_LOOKBACK = timedelta(hours=2)


@dataclass
class _Round:
    """What one call decided for one incident: a firing or resolve notification round, and the
    firing flips that may trigger an automatic rollback."""

    incident: Incident
    firing: bool = False
    resolved: bool = False
    settle: bool = False  # a rule came back to normal: resolve when none still fires, after the batch
    fired: list[AlertFlip] = field(default_factory=list)


def _enqueue(*, incident: Incident, kind: str, now: datetime) -> list:
    """Ask the outbox for one notification round (ops.alerts.outbox). Imported here, at call
    time: the outbox imports this package's links, and the processor must not fail to load
    when the outbox cannot."""
    from ops.alerts.outbox import notifications_enqueue

    return notifications_enqueue(incident=incident, kind=kind, now=now)


def flips_process(*, now: datetime | None = None, limit: int = 500) -> int:
    """Process up to ``limit`` unclaimed flips; returns how many this call claimed.

    1. In one transaction: link the jobs made on open incidents' functions (ACTION events);
       claim each flip (``processed_at`` NULL → now, == 1 or skip it); a flip to firing opens
       or joins the function's open incident (FIRED / REFIRED), a flip back to normal writes
       RULE_RESOLVED; after the batch, an incident none of whose states still fires or waits
       resolves; open incidents whose rules were deleted are resolved (RULE_DELETED).
    2. Still in it, per incident touched: the opt-in automatic rollback for its firing flips
       (once per incident × alias by the job's idempotency key; the job is sent to the actions
       queue on commit), so the notification can say so; then the diagnosis stored,
       ``notify_seq`` bumped and the outbox asked for the round (firing on open or a worse
       severity joining; resolved).
    """
    now = now or timezone.now()
    rounds: dict[int, _Round] = {}
    processed = 0
    with transaction.atomic():
        jobs_link(now=now)
        ids = list(AlertFlip.objects.filter(processed_at=None).order_by("id").values_list("id", flat=True)[:limit])
        for flip_id in ids:
            if AlertFlip.objects.filter(pk=flip_id, processed_at=None).update(processed_at=now) != 1:
                continue  # another processor owns it
            processed += 1
            flip = AlertFlip.objects.select_related("rule", "function").get(pk=flip_id)
            mine: dict[int, _Round] = {}  # merged only once the flip's savepoint held
            try:
                with transaction.atomic():
                    _flip_apply(flip=flip, now=now, rounds=mine)
            except Exception:
                # one flip that cannot be applied must not hold back every later one (it would be
                # retried, and fail, every tick); it stays claimed, and the log says which
                log.exception("flip %s (rule %s, function %s) could not be applied", flip.pk, flip.rule_name,
                              flip.function_id)
                continue
            for pk, m in mine.items():
                r = rounds.setdefault(pk, _Round(incident=m.incident))
                r.incident = m.incident
                r.firing, r.resolved, r.settle = r.firing or m.firing, r.resolved or m.resolved, r.settle or m.settle
                r.fired += m.fired
        for r in rounds.values():
            _settle(r, now=now)
        _deleted_rules_sweep(now=now, rounds=rounds)
        for r in rounds.values():
            _auto_rollbacks(r, now=now)
            _round_notify(r, now=now)
    return processed


# --- one flip ----------------------------------------------------------------------------------
def _flip_apply(*, flip: AlertFlip, now: datetime, rounds: dict[int, _Round]) -> None:
    if flip.new_state == AlertStateName.FIRING:
        _fired(flip=flip, now=now, rounds=rounds)
    elif flip.old_state == AlertStateName.FIRING and flip.new_state in (AlertStateName.RESOLVED, AlertStateName.OK):
        _back_to_normal(flip=flip, now=now, rounds=rounds)
    # ok ↔ pending and pending → resolved say nothing to anyone: the rule never fired


def _open_incident(*, function_id: int | None, scope_key: str) -> Incident | None:
    return (Incident.objects.select_for_update()
            .filter(function_id=function_id, scope_key=scope_key, status=IncidentStatus.OPEN).first())


def _fired(*, flip: AlertFlip, now: datetime, rounds: dict[int, _Round]) -> None:
    scope_key = "" if flip.function_id else flip.scope_key
    incident = _open_incident(function_id=flip.function_id, scope_key=scope_key)
    opened = False
    if incident is None:
        try:
            with transaction.atomic():  # a savepoint: the constraint may refuse a second open one
                incident = Incident.objects.create(
                    function=flip.function, scope_key=scope_key, title=_title(flip), severity=flip.severity,
                    began_at=incident_onset(flip=flip), opened_at=now,
                )
                opened = True
        except IntegrityError:
            # another processor opened it between our read and our INSERT: join that one
            incident = _open_incident(function_id=flip.function_id, scope_key=scope_key)
            if incident is None:
                raise
    r = rounds.setdefault(incident.pk, _Round(incident=incident))
    r.incident = incident
    seen_before = IncidentEvent.objects.filter(
        incident=incident, kind__in=[IncidentEventKind.FIRED, IncidentEventKind.REFIRED], data__rule_id=flip.rule_id,
    ).exists()
    kind = IncidentEventKind.REFIRED if seen_before else IncidentEventKind.FIRED
    IncidentEvent.objects.create(
        incident=incident, at=now, kind=kind, rule=flip.rule, text=_fired_text(flip, again=seen_before),
        data={"rule_id": flip.rule_id, "rule_name": flip.rule_name, "flip_id": flip.pk, "value": flip.value,
              "threshold": flip.threshold, "severity": flip.severity, "at": flip.at.isoformat()},
    )
    worse = SEVERITY_RANK.get(flip.severity, 0) > SEVERITY_RANK.get(incident.severity, 0)
    if worse:
        incident.severity = flip.severity
        incident.save(update_fields=["severity"])
    # a new incident, or a rule joining at a higher severity: a firing round
    if opened or worse:
        r.firing = True
    r.fired.append(flip)
    AlertFlip.objects.filter(pk=flip.pk).update(incident=incident)
    AlertState.objects.filter(rule_id=flip.rule_id, function_id=flip.function_id, scope_key=flip.scope_key).update(
        incident=incident)


def _back_to_normal(*, flip: AlertFlip, now: datetime, rounds: dict[int, _Round]) -> None:
    scope_key = "" if flip.function_id else flip.scope_key
    incident = _open_incident(function_id=flip.function_id, scope_key=scope_key)
    if incident is None:
        return  # it fired before incidents existed, or its incident was resolved another way
    r = rounds.setdefault(incident.pk, _Round(incident=incident))
    r.incident = incident
    IncidentEvent.objects.create(
        incident=incident, at=now, kind=IncidentEventKind.RULE_RESOLVED, rule=flip.rule,
        text=f"{flip.rule_name} back to normal" + (f" ({_num(flip.value)})" if flip.value is not None else ""),
        data={"rule_id": flip.rule_id, "rule_name": flip.rule_name, "flip_id": flip.pk, "value": flip.value},
    )
    AlertFlip.objects.filter(pk=flip.pk).update(incident=incident)
    r.settle = True


def _settle(r: _Round, *, now: datetime) -> None:
    """After the whole batch (the states are the evaluator's newest, so judging per flip would
    close an incident a later flip of the same batch still needs): resolve when no state of the
    incident still fires or waits."""
    if r.settle and r.incident.status == IncidentStatus.OPEN and not AlertState.objects.filter(
            incident=r.incident, state__in=ACTIVE_STATES).exists():
        _resolve(incident=r.incident, now=now, text="every rule back to normal", r=r)


def _resolve(*, incident: Incident, now: datetime, text: str, r: _Round) -> None:
    incident.status, incident.resolved_at = IncidentStatus.RESOLVED, now
    incident.save(update_fields=["status", "resolved_at"])
    IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.RESOLVED,
                                 text=f"resolved: {text}, after {_duration(now - incident.began_at)}")
    r.resolved = True


def _deleted_rules_sweep(*, now: datetime, rounds: dict[int, _Round]) -> None:
    """Open incidents whose rules were deleted while firing: the states went with the rule (no
    flip will ever say "resolved"), so write RULE_DELETED once per rule, and resolve the
    incident when nothing of it still fires. An incident whose function still has unclaimed
    flips waits for them (they may be the resolve itself)."""
    pending_fns = AlertFlip.objects.filter(processed_at=None).values("function_id")
    incidents = list(
        Incident.objects.select_for_update().filter(status=IncidentStatus.OPEN)
        .exclude(function_id__in=pending_fns.filter(function_id__isnull=False))
    )
    for incident in incidents:
        fired = {e["data__rule_id"]: e["data__rule_name"] for e in IncidentEvent.objects.filter(
            incident=incident, kind__in=[IncidentEventKind.FIRED, IncidentEventKind.REFIRED]).values(
            "data__rule_id", "data__rule_name") if e["data__rule_id"] is not None}
        if not fired:
            continue
        alive = set(AlertRule.objects.filter(pk__in=list(fired)).values_list("pk", flat=True))
        noted = set(IncidentEvent.objects.filter(incident=incident, kind=IncidentEventKind.RULE_DELETED)
                    .values_list("data__rule_id", flat=True))
        gone = [rid for rid in fired if rid not in alive and rid not in noted]
        r = rounds.get(incident.pk)
        for rid in gone:
            IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.RULE_DELETED,
                                         text=f"rule {fired[rid]} deleted while firing",
                                         data={"rule_id": rid, "rule_name": fired[rid]})
        if (gone or noted) and not AlertState.objects.filter(incident=incident, state__in=ACTIVE_STATES).exists():
            r = r or rounds.setdefault(incident.pk, _Round(incident=incident))
            names = ", ".join(fired[rid] for rid in gone) or "its rules"
            _resolve(incident=incident, now=now, text=f"{names} deleted, nothing else firing", r=r)


# --- automatic rollback and notification rounds -----------------------------------------------
def _auto_rollbacks(r: _Round, *, now: datetime) -> None:
    """Each firing flip's opt-in rollback, in a savepoint: one that cannot be asked for (Lambda
    unreachable, a bug) is logged and leaves the incident, its events and its round intact."""
    if not r.fired or r.incident.status != IncidentStatus.OPEN:
        return
    from ops.alerts.autorollback import auto_rollback_run

    for flip in r.fired:
        try:
            with transaction.atomic():
                auto_rollback_run(incident=r.incident, flip=flip, now=now)
        except Exception:
            log.exception("automatic rollback for incident %s (flip %s) failed", r.incident.pk, flip.pk)


def _round_notify(r: _Round, *, now: datetime) -> None:
    """One round per incident per call: resolved wins over firing (an incident opened and closed
    within one call says so once, resolved)."""
    from ops.alerts.diagnosis import incident_diagnose

    if not (r.firing or r.resolved):
        return
    incident = r.incident
    incident_diagnose(incident=incident, now=now)
    Incident.objects.filter(pk=incident.pk).update(notify_seq=F("notify_seq") + 1)
    incident.refresh_from_db(fields=["notify_seq"])
    kind = NotificationKind.RESOLVED if r.resolved else NotificationKind.FIRING
    try:
        with transaction.atomic():
            _enqueue(incident=incident, kind=kind, now=now)
    except Exception as err:
        # the incident and its timeline stand; the round that could not be queued says so there
        log.exception("notifications for incident %s could not be queued", incident.pk)
        IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.NOTIFY_FAILED,
                                     text=f"{kind} notifications could not be queued: {type(err).__name__}: {err}"[:2000])


# --- actions on the timeline -----------------------------------------------------------------
def jobs_link(*, now: datetime | None = None) -> int:
    """Every job made on an open incident's function (the function, an alias or version of it,
    one of its DLQs) since the incident opened becomes one ACTION event linked to the job; the
    constraint ``incidentevent_one_per_job`` keeps it once however often this runs. Returns how
    many it linked."""
    now = now or timezone.now()
    linked = 0
    for incident in Incident.objects.filter(status=IncidentStatus.OPEN, function__isnull=False).select_related("function"):
        fn = incident.function
        dlqs = Queue.objects.filter(function_links__function=fn, function_links__role__in=DLQ_ROLES).values("arn")
        jobs = (
            Job.objects.filter(Q(resource_arn=fn.arn) | Q(resource_arn__startswith=f"{fn.arn}:") | Q(resource_arn__in=dlqs))
            .filter(created_at__gte=incident.opened_at)
            .exclude(incident_events__incident=incident)
            .order_by("created_at", "id")
        )
        for job in jobs:
            try:
                with transaction.atomic():
                    IncidentEvent.objects.create(
                        incident=incident, at=job.created_at, kind=IncidentEventKind.ACTION, job=job,
                        actor_name=job.actor_name, text=f"{job.get_kind_display()} · {job.target_label or job.resource_arn}",
                        data={"job_status": job.status},
                    )
                linked += 1
            except IntegrityError:
                pass  # linked by a processor running at the same time
    return linked


# --- onset and texts -------------------------------------------------------------------------
def incident_onset(*, flip: AlertFlip) -> datetime:
    """When the trouble began: the function's now-state episode where its signal has one (it
    reads the minutes back past the rule's windows), else the rule's first breaching window
    (the ok → pending flip before this one), else the start of the M windows that fired it."""
    first = _first_breaching(flip)
    if flip.function is not None:
        try:
            since = _now_since(flip.function)
        except Exception:  # missing or odd telemetry: the rule's own windows still say when
            log.exception("now state of function %s for an onset", flip.function_id)
            since = None
        if since is not None and first - ONSET_LOOKBACK <= since <= flip.at:
            return min(since, first)
    return first


def _first_breaching(flip: AlertFlip) -> datetime:
    pending = (AlertFlip.objects.filter(rule_id=flip.rule_id, function_id=flip.function_id, scope_key=flip.scope_key,
                                        new_state=AlertStateName.PENDING, at__lte=flip.at, id__lt=flip.pk)
               .order_by("-id").values_list("at", flat=True).first())
    if pending is not None and flip.at - pending <= timedelta(hours=1):
        return pending - timedelta(minutes=1)  # ``at`` is the end of its window
    m = flip.rule.windows_m if flip.rule is not None else 1
    return flip.at - timedelta(minutes=m)


def _now_since(function) -> datetime | None:
    from ops.models import Series, SeriesKind
    from ops.selectors.headroom import account_concurrency_limit
    from ops.selectors.now import function_now

    series = Series.objects.filter(function=function, kind=SeriesKind.FUNCTION, qualifier="").first()
    state = function_now(function=function, series=series, concurrency_limit=account_concurrency_limit())
    return state.since


def _title(flip: AlertFlip) -> str:
    where = flip.function.name if flip.function is not None else flip.scope_key
    return f"{where}: {flip.rule_name}"[:255]


def _fired_text(flip: AlertFlip, *, again: bool) -> str:
    verb = "fired again" if again else "fired"
    value = ""
    if flip.value is not None:
        value = f": {_num(flip.value)}" + (f" vs threshold {_num(flip.threshold)}" if flip.threshold is not None else "")
    return f"{flip.rule_name} {verb} ({flip.get_severity_display().lower()}){value}, window ending {flip.at:%H:%M} UTC"


def _num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"


def _duration(d: timedelta) -> str:
    minutes = max(0, int(d.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    if h < 48:
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{h // 24} d {h % 24} h"
