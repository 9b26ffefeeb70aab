"""The notification outbox: decide (enqueue), then deliver, durably.

A notification is a row before it is anything else. ``notifications_enqueue`` writes one per
channel with an idempotency key ``<incident>:<kind>:<notify_seq>:<channel>`` (a second call for
the same round finds the rows already there); ``notifications_deliver`` claims due rows with a
conditional UPDATE, sends each through its channel's transport, records every try as a
DeliveryAttempt and settles the row:

- sent → NOTIFIED on the incident's timeline;
- transient failure (timeout, refused connection, 5xx, 429) → back to pending, due after a
  capped exponential backoff with jitter (ops.alerts.schedule), for at least RETRY_WINDOW;
- permanent failure (404, 410, invalid token, refused recipient) → failed, the channel disabled
  with the reason, its other pending rows cancelled; NOTIFY_FAILED on the timeline.

Exactly once, as far as it goes: the claim means one sender per row per attempt; a sender
killed between the POST and the row update leaves the row "sending", and after
STALE_CLAIM another sender retakes it and sends again — the one residual duplicate, which the
webhook's Idempotency-Key lets a receiver drop. Every outcome write is conditional on the claim,
so a slow sender whose claim was retaken cannot overwrite the newer sender's result.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ops.alerts import schedule
from ops.alerts.messages import incident_payload, incident_rules, test_payload
from ops.alerts.transports import DeliveryError, transport_for
from ops.alerts.transports.base import scrub
from ops.models import Channel, DeliveryAttempt, Incident, IncidentEvent, Notification
from ops.models.choices import IncidentEventKind, IncidentStatus, NotificationKind, NotificationState

log = logging.getLogger(__name__)

PENDING, SENDING = NotificationState.PENDING, NotificationState.SENDING
SENT, FAILED, CANCELLED = NotificationState.SENT, NotificationState.FAILED, NotificationState.CANCELLED
# Stop claiming after this long in one run: a few receivers that time out (8 s each) must not
# push the run past the task's 50 s soft limit with rows claimed and unsent.
DELIVER_BUDGET_S = 35.0


@dataclass
class DeliverResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    cancelled: int = 0
    held: int = 0  # muted incidents: put back until the mute ends
    repeats: int = 0  # repeat rounds scheduled by this call


def idempotency_key(*, incident: Incident, kind: str, seq: int, channel: Channel) -> str:
    return f"{incident.pk}:{kind}:{seq}:{channel.pk}"


def notifications_enqueue(*, incident: Incident, kind: str, now: datetime | None = None) -> list[Notification]:
    """One Notification per enabled channel of the incident's rules (its firing rules, for a
    firing or repeat round), written before anything is sent. Idempotent per round: the key
    holds ``incident.notify_seq``, which the caller bumps per round, so calling twice for one
    round returns the rows of the first call. The payload is rendered now and kept."""
    now = now or timezone.now()
    rules = incident_rules(incident, firing_only=kind != NotificationKind.RESOLVED)
    channels: dict[int, Channel] = {}
    for rule in rules:
        for channel in rule.channels.all():
            if channel.enabled:
                channels[channel.pk] = channel
    if kind == NotificationKind.RESOLVED:
        # whoever was told it is firing hears that it is over, even if the rule that told them
        # has since been deleted or lost that channel
        told = Channel.objects.filter(enabled=True, notifications__incident=incident, notifications__state=SENT,
                                      notifications__kind__in=(NotificationKind.FIRING, NotificationKind.REPEAT))
        channels.update({ch.pk: ch for ch in told})
    if not channels:
        return []
    due_at = schedule.first_due(incident=incident, kind=kind, rules=rules, now=now)
    payload = incident_payload(incident=incident, kind=kind, now=now)
    keys = {pk: idempotency_key(incident=incident, kind=kind, seq=incident.notify_seq, channel=ch)
            for pk, ch in channels.items()}
    Notification.objects.bulk_create(
        [Notification(incident=incident, channel=ch, kind=kind, idempotency_key=keys[pk], payload=payload,
                      due_at=due_at) for pk, ch in channels.items()],
        ignore_conflicts=True,  # the key is unique: a second enqueue of the round adds nothing
    )
    rows = list(Notification.objects.filter(idempotency_key__in=keys.values()).order_by("id"))
    _kick(due_at=due_at, now=now)
    return rows


def _kick(*, due_at: datetime, now: datetime) -> None:
    """Ask the sender to run when the rows fall due (the NOTIFY_SWEEP_SECONDS beat is the
    safety net when the broker is down or the message is lost)."""
    countdown = max(0.0, (due_at - now).total_seconds())

    def send() -> None:
        try:
            from ops.tasks.alerts import notifications_send

            # retry=False: with the broker down, fail at once rather than stall the caller
            notifications_send.apply_async(countdown=countdown, retry=False)
        except Exception as exc:  # the beat sweep delivers anyway
            log.warning("could not queue the notification sender (%s); the sweep will send", type(exc).__name__)

    transaction.on_commit(send)


def notifications_deliver(*, now: datetime | None = None, limit: int = 100) -> DeliverResult:
    """Send what is due. Steps:

    1. schedule repeat rounds of open, firing, unmuted, unacknowledged incidents whose repeat
       interval has passed (ops.alerts.schedule.repeats_schedule);
    2. pick up to ``limit`` rows due by ``now``: pending ones, and "sending" ones whose claim is
       older than STALE_CLAIM (a sender killed mid-send);
    3. claim each with a conditional UPDATE — a row another sender claimed first is skipped;
    4. deliver each claimed row (``_deliver_claimed``) and count the outcomes.
    """
    now = now or timezone.now()
    result = DeliverResult()
    result.repeats = schedule.repeats_schedule(now=now, enqueue=notifications_enqueue)
    stale = now - schedule.STALE_CLAIM
    due = Q(state=PENDING, due_at__lte=now) | Q(state=SENDING, claimed_at__lt=stale)
    candidates = list(Notification.objects.filter(due).order_by("due_at", "id").values_list("id", flat=True)[:limit])
    started = time.monotonic()
    for pk in candidates:
        if time.monotonic() - started > DELIVER_BUDGET_S:
            break  # the rest stay due for the next run, well inside the task's time limit
        claimed = Notification.objects.filter(Q(pk=pk) & due).update(state=SENDING, claimed_at=now)
        if claimed != 1:
            continue  # another sender owns it
        outcome = _deliver_claimed(pk=pk, claim=now, now=now)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def channel_test(*, channel: Channel, user) -> Notification:
    """"Send test notification": a TEST row, delivered now, in this request, so the page can
    say what happened. It goes out even to a disabled channel (that is how one checks a fix);
    a permanent error is shown, and does not disable the channel a second time."""
    now = timezone.now()
    row = Notification.objects.create(
        channel=channel, kind=NotificationKind.TEST, idempotency_key=f"test:{channel.pk}:{uuid.uuid4().hex}",
        payload=test_payload(channel=channel, user=user, now=now), due_at=now, state=SENDING, claimed_at=now,
    )
    _deliver_claimed(pk=row.pk, claim=now, now=now)
    row.refresh_from_db()
    return row


# -- one row -------------------------------------------------------------------------------------


def _deliver_claimed(*, pk: int, claim: datetime, now: datetime) -> str:
    """Send one claimed row and settle it; returns the DeliverResult field it counts in."""
    row = Notification.objects.select_related("channel", "incident").get(pk=pk)
    channel = row.channel
    is_test = row.kind == NotificationKind.TEST
    if not is_test:
        skip = _reason_not_to_send(row=row, now=now)
        if skip is not None:
            return skip
    start = time.monotonic()
    error: DeliveryError | None = None
    status_code = None
    try:
        sent = transport_for(channel.kind).send(channel=channel, payload=row.payload, idempotency_key=row.idempotency_key)
        status_code = sent.status_code
    except DeliveryError as exc:
        error = exc
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: the claim goes stale and another run retakes the row
    except Exception as exc:  # a transport bug must not kill the sender: retried, recorded
        error = DeliveryError(f"unexpected {type(exc).__name__}", permanent=False)
    duration_ms = int((time.monotonic() - start) * 1000)
    reason = scrub(error.reason, channel.target) if error is not None else ""
    attempt = DeliveryAttempt(notification=row, at=now, duration_ms=duration_ms, ok=error is None,
                              status_code=error.status_code if error is not None else status_code,
                              transient=bool(error and not error.permanent), error=reason)
    attempts = row.attempts + 1
    if error is None:
        return _settle_sent(row=row, claim=claim, attempt=attempt, attempts=attempts, now=now)
    log.warning("notification %s to channel %s (%s) failed: %s", row.pk, channel.name, channel.kind, reason)
    if error.permanent or is_test:
        return _settle_failed(row=row, claim=claim, attempt=attempt, attempts=attempts, reason=reason, now=now,
                              disable=error.permanent and not is_test)
    first = row.attempts_log.order_by("at", "id").values_list("at", flat=True).first() or now
    if now - first >= schedule.RETRY_WINDOW:
        return _settle_failed(row=row, claim=claim, attempt=attempt, attempts=attempts, now=now, disable=False,
                              reason=f"gave up after {attempts} attempts over "
                                     f"{int((now - first).total_seconds() // 60)} min; last: {reason}")
    due_at = schedule.retry_due(attempts=attempts, now=now, retry_after_s=error.retry_after_s)
    with transaction.atomic():
        attempt.save()
        if not _update_claimed(row, claim, state=PENDING, claimed_at=None, due_at=due_at, attempts=attempts,
                               last_error=reason):
            return "retrying"
        Channel.objects.filter(pk=channel.pk).update(last_error=reason, last_error_at=now)
    return "retrying"


def _update_claimed(row: Notification, claim: datetime, **fields) -> bool:
    """Write the outcome only if this sender's claim still holds (STYLE rule 8)."""
    return Notification.objects.filter(pk=row.pk, state=SENDING, claimed_at=claim).update(**fields) == 1


def _reason_not_to_send(*, row: Notification, now: datetime) -> str | None:
    """Cancel or hold a claimed row instead of sending it; None means send."""
    channel, incident = row.channel, row.incident
    if not channel.enabled:
        _cancel(row=row, claim=row.claimed_at, now=now,
                reason=f"not sent: channel {channel.name} is disabled ({channel.disabled_reason or 'by an operator'})")
        return "cancelled"
    if incident is None:
        return None
    if incident.muted_until and incident.muted_until > now:
        # Held, not cancelled: it goes when the mute ends, unless a newer round supersedes it.
        # Looked at again every HOLD_RECHECK at most, so unmuting early releases it promptly.
        _update_claimed(row, row.claimed_at, state=PENDING, claimed_at=None,
                        due_at=min(incident.muted_until, now + schedule.HOLD_RECHECK))
        return "held"
    rounds = Notification.objects.filter(incident=incident, channel=channel).exclude(pk=row.pk)
    firing_kinds = (NotificationKind.FIRING, NotificationKind.REPEAT)
    if row.kind in firing_kinds:
        if incident.status == IncidentStatus.RESOLVED and row.attempts == 0:
            # resolved within the group wait (or the mute): a blip nobody needs to be paged for
            _cancel(row=row, claim=row.claimed_at, now=now, event=False,
                    reason="not sent: the incident was resolved before it was due")
            return "cancelled"
        if rounds.filter(id__gt=row.pk, kind__in=firing_kinds, state__in=(PENDING, SENDING)).exists():
            # A later firing round is waiting (a mute or an outage held both): the reader needs
            # the newest state once, not every round they missed.
            _cancel(row=row, claim=row.claimed_at, now=now, reason="superseded by a newer notification", event=False)
            return "cancelled"
    elif row.kind == NotificationKind.RESOLVED and not rounds.filter(kind__in=firing_kinds, state=SENT).exists():
        if rounds.filter(id__lt=row.pk, kind__in=firing_kinds, state__in=(PENDING, SENDING)).exists():
            # the firing message is still being retried: the resolve follows it, never precedes it
            _update_claimed(row, row.claimed_at, state=PENDING, claimed_at=None, due_at=now + schedule.HOLD_RECHECK)
            return "held"
        _cancel(row=row, claim=row.claimed_at, now=now, event=False,
                reason="not sent: this channel was never told the incident was firing")
        return "cancelled"
    return None


def _settle_sent(*, row, claim, attempt, attempts, now) -> str:
    channel, incident = row.channel, row.incident
    with transaction.atomic():
        attempt.save()  # the POST happened, whoever settles the row
        if not _update_claimed(row, claim, state=SENT, sent_at=now, attempts=attempts, last_error=""):
            return "sent"  # retaken after a stale claim: the other sender records the outcome
        Channel.objects.filter(pk=channel.pk).update(last_sent_at=now)
        if incident is not None:
            Incident.objects.filter(pk=incident.pk).update(last_notified_at=now)
            IncidentEvent.objects.create(
                incident=incident, at=now, kind=IncidentEventKind.NOTIFIED, channel=channel,
                text=f"{row.get_kind_display()} notification sent to {channel.name} ({channel.get_kind_display()})"
                     + (f" after {attempts} attempts" if attempts > 1 else ""),
                data={"notification": row.pk, "kind": row.kind, "attempts": attempts},
            )
    return "sent"


def _settle_failed(*, row, claim, attempt, attempts, reason, now, disable: bool) -> str:
    channel, incident = row.channel, row.incident
    with transaction.atomic():
        attempt.save()
        if not _update_claimed(row, claim, state=FAILED, attempts=attempts, last_error=reason):
            return "failed"
        Channel.objects.filter(pk=channel.pk).update(last_error=reason, last_error_at=now)
        if disable:
            channel_disable(channel=channel, reason=reason, now=now)
        if incident is not None:
            _failed_event(row=row, reason=reason, now=now)
    return "failed"


def _failed_event(*, row: Notification, reason: str, now: datetime) -> None:
    IncidentEvent.objects.create(
        incident=row.incident, at=now, kind=IncidentEventKind.NOTIFY_FAILED, channel=row.channel,
        text=f"{row.get_kind_display()} notification to {row.channel.name} not delivered: {reason}",
        data={"notification": row.pk, "kind": row.kind},
    )


def _cancel(*, row: Notification, claim, now: datetime, reason: str, event: bool = True) -> None:
    with transaction.atomic():
        if _update_claimed(row, claim, state=CANCELLED, last_error=reason) and event and row.incident_id:
            _failed_event(row=row, reason=reason, now=now)


def channel_disable(*, channel: Channel, reason: str, now: datetime) -> int:
    """Disable the channel after a permanent error (the first reason stays) and cancel what is
    still waiting for it, each with a NOTIFY_FAILED event saying why. Returns rows cancelled."""
    Channel.objects.filter(pk=channel.pk, enabled=True).update(enabled=False, disabled_reason=reason, disabled_at=now)
    channel.refresh_from_db(fields=["enabled", "disabled_reason", "disabled_at"])
    why = f"not sent: channel {channel.name} was disabled ({channel.disabled_reason})"
    waiting = list(Notification.objects.filter(channel=channel, state=PENDING).select_related("channel", "incident"))
    cancelled = 0
    for row in waiting:
        if Notification.objects.filter(pk=row.pk, state=PENDING).update(state=CANCELLED, last_error=why) == 1:
            cancelled += 1
            if row.incident_id:
                _failed_event(row=row, reason=why, now=now)
    return cancelled


def channel_enable(*, channel: Channel) -> None:
    """Re-enable after the cause is fixed; what was cancelled stays cancelled."""
    Channel.objects.filter(pk=channel.pk).update(enabled=True, disabled_reason="", disabled_at=None)
    channel.refresh_from_db(fields=["enabled", "disabled_reason", "disabled_at"])
