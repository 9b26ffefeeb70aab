"""When the outbox sends: group wait and group interval (Alertmanager's grouping), the capped
exponential backoff of retries, and the repeat rounds of an incident that stays firing."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Min, Q

from ops.models import AlertRule, AlertState, Incident, Notification
from ops.models.choices import AlertStateName, IncidentStatus, NotificationKind, NotificationState

# A "sending" row claimed longer ago than this is retaken: its sender died mid-send. Well above
# the longest attempt (3 s connect + 5 s read for HTTP, EMAIL_TIMEOUT per SMTP step).
STALE_CLAIM = timedelta(seconds=60)
# Transient failures are retried for at least this long: a receiver down for half an hour gets
# everything afterwards.
RETRY_WINDOW = timedelta(hours=2)
# A row held by a mute is looked at again this often (an early unmute releases it).
HOLD_RECHECK = timedelta(seconds=60)
BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 600.0


def retry_due(*, attempts: int, now: datetime, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> datetime:
    """10 s × 2^(attempts-1), ±25 % jitter (so a fleet of rows that failed together does not
    come back together), capped at 10 min; a receiver's Retry-After is honoured up to the cap."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    delay = min(BACKOFF_CAP_S, delay * (rng or random).uniform(0.75, 1.25))
    if retry_after_s is not None:
        delay = min(BACKOFF_CAP_S, max(delay, retry_after_s))
    return now + timedelta(seconds=delay)


def _earlier_rounds(incident: Incident):
    return Notification.objects.filter(incident=incident).exclude(kind=NotificationKind.TEST)


def first_due(*, incident: Incident, kind: str, rules: list[AlertRule], now: datetime) -> datetime:
    """Group wait for an incident's first round (counted from its opening, so rules that join
    within it go out together), group interval between later firing rounds; repeats and
    resolves go when decided (a resolve is good news the reader is waiting for)."""
    if kind != NotificationKind.FIRING or not rules:
        return now
    if not _earlier_rounds(incident).exists():
        wait = min(rule.group_wait_s for rule in rules)
        return max(now, incident.opened_at + timedelta(seconds=wait))
    interval = min(rule.group_interval_s for rule in rules)
    last = incident.last_notified_at
    return max(now, last + timedelta(seconds=interval)) if last else now


def repeats_schedule(*, now: datetime, enqueue: Callable[..., list]) -> int:
    """Start a REPEAT round for every open incident still firing whose last notification is older
    than its rules' repeat interval. Not while muted (after the mute, one repeat at most: the
    round goes once, then the interval runs again), not once acknowledged (someone is on it), not
    while a round is still waiting. The round number is taken with a conditional UPDATE on
    ``notify_seq``, so two senders cannot start the same round twice."""
    shortest = AlertRule.objects.aggregate(m=Min("repeat_interval_s"))["m"]
    if not shortest:
        return 0
    firing = AlertState.objects.filter(state=AlertStateName.FIRING).values("incident_id")
    candidates = (Incident.objects
                  .filter(status=IncidentStatus.OPEN, acknowledged_at__isnull=True, id__in=firing,
                          last_notified_at__lte=now - timedelta(seconds=shortest))
                  .filter(Q(muted_until__isnull=True) | Q(muted_until__lte=now)))
    started = 0
    for incident in candidates:
        from ops.alerts.messages import incident_rules

        rules = incident_rules(incident, firing_only=True)
        if not any(ch.enabled for rule in rules for ch in rule.channels.all()):
            continue  # nowhere to send: taking a round number would only churn notify_seq
        interval = timedelta(seconds=min(rule.repeat_interval_s for rule in rules))
        if incident.last_notified_at + interval > now:
            continue
        if _earlier_rounds(incident).filter(state__in=(NotificationState.PENDING, NotificationState.SENDING)).exists():
            continue
        seq = incident.notify_seq
        if Incident.objects.filter(pk=incident.pk, notify_seq=seq).update(notify_seq=seq + 1) != 1:
            continue
        incident.notify_seq = seq + 1
        if enqueue(incident=incident, kind=NotificationKind.REPEAT, now=now):
            started += 1
    return started
