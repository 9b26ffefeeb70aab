"""The outbox against a real HTTP receiver on loopback: durable rows, retries with backoff,
permanent errors disabling the channel, a receiver down for half an hour, two senders at once,
mutes, grouping and repeats. Time is the ``now`` handed to the outbox, never a sleep."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ops.alerts import schedule
from ops.alerts.outbox import notifications_deliver, notifications_enqueue
from ops.alerts.transports import base
from ops.models import Channel, DeliveryAttempt, IncidentEvent, Notification
from ops.models.choices import ChannelKind, IncidentEventKind, NotificationKind, NotificationState
from tests.ops.alerts.notify_data import channel, firing_incident
from tests.receivers import http_receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _hook(receiver, path="/hook"):
    return channel(kind=ChannelKind.WEBHOOK, target=receiver.url(path))


def _keys(receiver) -> Counter:
    return Counter(r.headers["Idempotency-Key"] for r in receiver.requests)


def _events(incident, kind):
    return list(IncidentEvent.objects.filter(incident=incident, kind=kind))


def test_the_row_is_written_before_sending_and_a_second_enqueue_of_the_round_adds_nothing(http_receiver):
    now = timezone.now()
    a, b = _hook(http_receiver, "/a"), _hook(http_receiver, "/b")
    incident = firing_incident(channels=[a, b], now=now)
    first = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    again = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert [n.pk for n in first] == [n.pk for n in again] and len(first) == 2
    assert {n.state for n in first} == {NotificationState.PENDING} and http_receiver.requests == []
    assert sorted(n.idempotency_key for n in first) == sorted(f"{incident.pk}:firing:0:{c.pk}" for c in (a, b))
    result = notifications_deliver(now=now)
    assert (result.sent, result.failed, result.retrying) == (2, 0, 0)
    assert notifications_deliver(now=now + timedelta(minutes=5)).sent == 0
    assert sorted(_keys(http_receiver).values()) == [1, 1]
    assert len(_events(incident, IncidentEventKind.NOTIFIED)) == 2


def test_500s_are_retried_with_growing_backoff_then_delivered_once(http_receiver):
    now = timezone.now()
    hook = _hook(http_receiver, "/hook/s3cr3t-path-token")
    incident = firing_incident(channels=[hook], now=now)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    http_receiver.script([500, 502, 200], body=b"upstream broke")
    delays, t = [], now
    for _ in range(3):
        result = notifications_deliver(now=t)
        row.refresh_from_db()
        if row.state != NotificationState.PENDING:
            break
        delays.append((row.due_at - t).total_seconds())
        t = row.due_at
    assert row.state == NotificationState.SENT and result.sent == 1
    assert 7.5 <= delays[0] <= 12.5 and 15 <= delays[1] <= 25  # 10 s × 2^k, ±25 % jitter
    attempts = list(DeliveryAttempt.objects.filter(notification=row))
    assert [(a.ok, a.status_code, a.transient) for a in attempts] == [(False, 500, True), (False, 502, True), (True, 200, False)]
    assert attempts[0].error == "HTTP 500: upstream broke"
    assert all("s3cr3t" not in a.error for a in attempts)
    assert len(http_receiver.requests) == 3 and row.attempts == 3
    assert len(_events(incident, IncidentEventKind.NOTIFIED)) == 1 and not _events(incident, IncidentEventKind.NOTIFY_FAILED)


def test_a_receiver_that_times_out_is_retried(http_receiver, monkeypatch):
    monkeypatch.setattr(base, "READ_TIMEOUT_S", 0.3)
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    http_receiver.delay_s = 1.0
    assert notifications_deliver(now=now).retrying == 1
    row.refresh_from_db()
    assert row.state == NotificationState.PENDING and row.last_error.startswith("no answer within the timeout")
    http_receiver.delay_s = 0
    assert notifications_deliver(now=row.due_at).sent == 1
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.attempts == 2


def test_a_404_disables_the_channel_with_the_reason_and_cancels_what_waits_for_it(http_receiver, caplog):
    now = timezone.now()
    slack = channel(kind=ChannelKind.SLACK, target=http_receiver.url("/services/T1/B1/s3cr3tT0ken"))
    first = firing_incident(channels=[slack], now=now)
    second = firing_incident(channels=[slack], now=now, function=None, group_wait_s=600)
    notifications_enqueue(incident=first, kind=NotificationKind.FIRING, now=now)
    [waiting] = notifications_enqueue(incident=second, kind=NotificationKind.FIRING, now=now)
    http_receiver.respond(404, b"no_service")
    result = notifications_deliver(now=now)
    assert (result.sent, result.failed) == (0, 1)
    slack.refresh_from_db()
    assert not slack.enabled and slack.disabled_reason == "HTTP 404: no_service" and slack.disabled_at == now
    waiting.refresh_from_db()
    assert waiting.state == NotificationState.CANCELLED
    assert waiting.last_error == f"not sent: channel {slack.name} was disabled (HTTP 404: no_service)"
    [failed] = _events(first, IncidentEventKind.NOTIFY_FAILED)
    assert failed.text.endswith("not delivered: HTTP 404: no_service") and failed.channel == slack
    assert len(_events(second, IncidentEventKind.NOTIFY_FAILED)) == 1
    # later rounds for the disabled channel: nothing written, nothing sent
    second.notify_seq = 1
    assert notifications_enqueue(incident=second, kind=NotificationKind.FIRING, now=now) == []
    assert notifications_deliver(now=now + timedelta(hours=1)).sent == 0
    assert len(http_receiver.requests) == 1
    assert "s3cr3tT0ken" not in caplog.text and "404" in caplog.text
    assert not DeliveryAttempt.objects.filter(error__contains="s3cr3t").exists()
    assert "s3cr3t" not in Channel.objects.get().last_error + Channel.objects.get().target_hint


def test_a_receiver_down_for_30_minutes_gets_every_notification_afterwards_once(http_receiver):
    now = timezone.now()
    hook = _hook(http_receiver)
    incidents = [firing_incident(channels=[hook], now=now) for _ in range(5)]
    rows = [n for i in incidents for n in notifications_enqueue(incident=i, kind=NotificationKind.FIRING, now=now)]
    http_receiver.down()
    t, attempts_down = now, 0
    while t < now + timedelta(minutes=30):  # the sweep runs every 10 s; here every 30 s of simulated time
        result = notifications_deliver(now=t)
        attempts_down += result.retrying
        t += timedelta(seconds=60)
    assert http_receiver.requests == [] and 5 * 6 <= attempts_down <= 5 * 12  # backoff, not a retry every tick
    assert Notification.objects.filter(state=NotificationState.PENDING).count() == 5
    http_receiver.up()
    end = t + timedelta(minutes=11)  # the longest backoff is 10 min (+25 % jitter is capped)
    while t <= end:
        notifications_deliver(now=t)
        t += timedelta(seconds=30)
    assert _keys(http_receiver) == Counter({r.idempotency_key: 1 for r in rows})
    assert set(Notification.objects.values_list("state", flat=True)) == {NotificationState.SENT}
    assert all(len(_events(i, IncidentEventKind.NOTIFIED)) == 1 for i in incidents)
    assert Channel.objects.get().enabled


def test_transient_errors_give_up_after_the_retry_window_without_disabling_the_channel(http_receiver):
    now = timezone.now()
    hook = _hook(http_receiver)
    incident = firing_incident(channels=[hook], now=now)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    http_receiver.respond(503)
    t = now
    while t <= now + schedule.RETRY_WINDOW + timedelta(minutes=15):
        notifications_deliver(now=t)
        t += timedelta(minutes=5)
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.last_error.startswith(f"gave up after {row.attempts} attempts over 1")
    assert 12 <= row.attempts <= 25
    hook.refresh_from_db()
    assert hook.enabled and hook.disabled_reason == ""  # a long outage is not a wrong address
    assert len(_events(incident, IncidentEventKind.NOTIFY_FAILED)) == 1


def test_429_waits_as_long_as_retry_after_says(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    http_receiver.respond(429)
    http_receiver.body = b"rate_limited"
    # the stand-in sends no Retry-After header: test_transports reads the header, this the wait
    notifications_deliver(now=now)
    row.refresh_from_db()
    assert row.state == NotificationState.PENDING and row.last_error == "HTTP 429: rate_limited"
    assert schedule.retry_due(attempts=1, now=now, retry_after_s=120) == now + timedelta(seconds=120)


@pytest.mark.django_db(transaction=True)
def test_two_senders_in_parallel_post_each_notification_once(http_receiver):
    now = timezone.now()
    channels = [_hook(http_receiver, f"/h{i}") for i in range(4)]
    rows = [n for _ in range(6) for n in notifications_enqueue(
        incident=firing_incident(channels=channels, now=now), kind=NotificationKind.FIRING, now=now)]
    assert len(rows) == 24
    start, results = threading.Barrier(2), []

    def sender():
        try:
            start.wait()
            results.append(notifications_deliver(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert sum(r.sent for r in results) == 24
    assert _keys(http_receiver) == Counter({r.idempotency_key: 1 for r in rows})
    assert DeliveryAttempt.objects.count() == 24


def test_a_sender_killed_mid_send_is_retaken_after_a_minute_and_only_then(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver, "/a"), _hook(http_receiver, "/b")], now=now)
    stale, fresh = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    Notification.objects.filter(pk=stale.pk).update(state=NotificationState.SENDING, claimed_at=now - timedelta(minutes=2))
    Notification.objects.filter(pk=fresh.pk).update(state=NotificationState.SENDING, claimed_at=now - timedelta(seconds=10))
    assert notifications_deliver(now=now).sent == 1
    assert _keys(http_receiver) == Counter({stale.idempotency_key: 1})
    fresh.refresh_from_db()
    assert fresh.state == NotificationState.SENDING
    assert notifications_deliver(now=now + timedelta(seconds=55)).sent == 1  # its claim is now a minute old
    assert _keys(http_receiver) == Counter({stale.idempotency_key: 1, fresh.idempotency_key: 1})


def test_group_wait_holds_the_first_round_and_group_interval_the_next(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now, group_wait_s=30, group_interval_s=300)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert row.due_at == incident.opened_at + timedelta(seconds=30)
    assert notifications_deliver(now=now + timedelta(seconds=20)).sent == 0
    assert notifications_deliver(now=now + timedelta(seconds=26)).sent == 1
    incident.refresh_from_db()
    incident.notify_seq = 1
    incident.save(update_fields=["notify_seq"])
    later = now + timedelta(seconds=60)
    [second] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=later)
    assert second.due_at == incident.last_notified_at + timedelta(seconds=300)


def test_repeats_while_firing_stop_when_acknowledged(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now, repeat_interval_s=3600)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    t = now
    while t < now + timedelta(hours=3, minutes=30):
        t += timedelta(minutes=5)
        notifications_deliver(now=t)
    keys = [r.headers["Idempotency-Key"] for r in http_receiver.requests]
    channel_pk = Channel.objects.get().pk
    assert keys == [f"{incident.pk}:firing:0:{channel_pk}"] + [f"{incident.pk}:repeat:{n}:{channel_pk}" for n in (1, 2, 3)]
    assert [r.json["kind"] for r in http_receiver.requests] == ["firing", "repeat", "repeat", "repeat"]
    incident.refresh_from_db()
    incident.acknowledged_at, incident.acknowledged_by_name = t, "olga"
    incident.save()
    notifications_deliver(now=t + timedelta(hours=5))
    assert len(http_receiver.requests) == 4


def test_a_mute_holds_everything_and_its_end_sends_one_catch_up(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now, repeat_interval_s=600)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    incident.refresh_from_db()
    incident.muted_until = now + timedelta(hours=1)
    incident.notify_seq = 1
    incident.save()
    # a new firing round while muted (another rule joined): written, held
    [held] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now + timedelta(minutes=5))
    t = now
    while t < incident.muted_until:
        t += timedelta(minutes=5)
        notifications_deliver(now=t)
    held.refresh_from_db()
    # nothing during the hour; the minute it ended, the held round, once (the five repeats the
    # mute swallowed are not sent: the held round is the catch-up)
    assert held.state == NotificationState.SENT and held.sent_at == incident.muted_until
    assert [r.json["kind"] for r in http_receiver.requests] == ["firing", "firing"]
    t_end = t
    while t < t_end + timedelta(minutes=5):
        t += timedelta(minutes=1)
        notifications_deliver(now=t)
    assert len(http_receiver.requests) == 2, "one catch-up, no burst of the repeats the mute swallowed"
    while t < t_end + timedelta(minutes=11):
        t += timedelta(minutes=1)
        notifications_deliver(now=t)
    assert [r.json["kind"] for r in http_receiver.requests] == ["firing", "firing", "repeat"]


def test_unmuting_early_sends_what_was_held_once_within_a_minute(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now)
    incident.muted_until = now + timedelta(hours=4)
    incident.save()
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    for minute in range(10):
        assert notifications_deliver(now=now + timedelta(minutes=minute)).held == 1
    assert http_receiver.requests == []
    incident.muted_until = None
    incident.save()
    t = now + timedelta(minutes=10)
    sent = sum(notifications_deliver(now=t + timedelta(seconds=s)).sent for s in range(0, 120, 10))
    assert sent == 1 and _keys(http_receiver) == Counter({row.idempotency_key: 1})


def test_a_resolve_reaches_the_channels_told_of_the_firing_even_after_the_rule_is_deleted(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    from ops.models import AlertRule

    AlertRule.objects.all().delete()
    incident.status, incident.resolved_at, incident.notify_seq = "resolved", now, 1
    incident.save()
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.RESOLVED, now=now)
    assert notifications_deliver(now=now).sent == 1
    assert [r.json["kind"] for r in http_receiver.requests] == ["firing", "resolved"]
    assert http_receiver.requests[1].json["rule"] == "error_rate high"  # the flip keeps the name


def test_a_blip_that_resolves_within_the_group_wait_sends_nothing(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now, group_wait_s=30)
    [firing] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    incident.status, incident.resolved_at, incident.notify_seq = "resolved", now, 1
    incident.save()
    [resolved] = notifications_enqueue(incident=incident, kind=NotificationKind.RESOLVED, now=now + timedelta(seconds=10))
    notifications_deliver(now=now + timedelta(seconds=40))
    firing.refresh_from_db()
    resolved.refresh_from_db()
    assert http_receiver.requests == []
    assert (firing.state, firing.last_error) == (NotificationState.CANCELLED,
                                                 "not sent: the incident was resolved before it was due")
    assert resolved.state == NotificationState.PENDING  # waited for the firing one to settle
    notifications_deliver(now=now + timedelta(minutes=2))
    resolved.refresh_from_db()
    assert (resolved.state, resolved.last_error) == (NotificationState.CANCELLED,
                                                     "not sent: this channel was never told the incident was firing")
    assert http_receiver.requests == []


def test_an_incident_that_resolves_during_an_outage_is_told_firing_then_resolved(http_receiver):
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    http_receiver.down()
    notifications_deliver(now=now)
    incident.status, incident.resolved_at, incident.notify_seq = "resolved", now + timedelta(minutes=2), 1
    incident.save()
    notifications_enqueue(incident=incident, kind=NotificationKind.RESOLVED, now=now + timedelta(minutes=2))
    t = now
    while t < now + timedelta(minutes=10):
        t += timedelta(seconds=30)
        notifications_deliver(now=t)
    assert http_receiver.requests == []
    http_receiver.up()
    while t < now + timedelta(minutes=25):
        t += timedelta(seconds=30)
        notifications_deliver(now=t)
    assert [r.json["kind"] for r in http_receiver.requests] == ["firing", "resolved"]


def test_enqueue_asks_the_sender_to_run_when_the_group_wait_ends(http_receiver, monkeypatch,
                                                                django_capture_on_commit_callbacks):
    from ops.tasks.alerts import notifications_send

    calls = []
    monkeypatch.setattr(notifications_send, "apply_async", lambda **kw: calls.append(kw))
    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now, group_wait_s=30)
    with django_capture_on_commit_callbacks(execute=True):
        notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert calls == [{"countdown": 25.0, "retry": False}]  # opened 5 s ago: 30 s of group wait left


def test_a_disabled_channel_does_not_churn_repeat_rounds(http_receiver):
    now = timezone.now()
    hook = _hook(http_receiver)
    incident = firing_incident(channels=[hook], now=now, repeat_interval_s=600)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    Channel.objects.filter(pk=hook.pk).update(enabled=False)
    for minute in range(15, 60, 5):
        assert notifications_deliver(now=now + timedelta(minutes=minute)).repeats == 0
    incident.refresh_from_db()
    assert incident.notify_seq == 0 and len(http_receiver.requests) == 1


def test_the_alerts_queue_task_delivers_what_is_due(http_receiver):
    from ops.tasks.alerts import notifications_send

    now = timezone.now()
    incident = firing_incident(channels=[_hook(http_receiver)], now=now - timedelta(minutes=1))
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now - timedelta(minutes=1))
    assert notifications_send() == {"sent": 1, "failed": 0, "retrying": 0}
    assert len(http_receiver.requests) == 1
