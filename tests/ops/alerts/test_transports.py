"""Each transport against a real receiver on loopback: what Slack, a mail client and a JSON
webhook receive for one firing incident, and how their failures are classified."""

from __future__ import annotations

import smtplib
from datetime import UTC

import pytest
from django.utils import timezone

from ops.alerts.outbox import notifications_deliver, notifications_enqueue
from ops.alerts.transports.base import DeliveryError, classify_http
from ops.alerts.transports.email import EmailTransport
from ops.models import Notification
from ops.models.choices import ChannelKind, NotificationKind, NotificationState
from tests.factories import AliasChangeFactory, AliasFactory, FunctionFactory
from tests.ops.alerts.notify_data import channel, firing_incident
from tests.receivers import http_receiver, smtp_receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

PUBLIC = "https://ops.example.test"


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_URL = PUBLIC


def _deployed_function():
    from ops.models import FunctionQueue, Queue, QueueRole

    fn = FunctionFactory(name="checkout-api")
    alias = AliasFactory(function=fn, name="live", version="43")
    AliasChangeFactory(alias=alias, from_version="42", to_version="43")
    dlq = Queue.objects.create(account=fn.account, region=fn.region, name="checkout-dlq",
                               arn=f"arn:aws:sqs:{fn.region}:{fn.account.account_id}:checkout-dlq",
                               last_seen=timezone.now())
    FunctionQueue.objects.create(function=fn, queue=dlq, role=QueueRole.LAMBDA_DLQ)
    return fn, alias, dlq


def test_slack_gets_block_kit_with_the_numbers_the_diagnosis_and_working_links(http_receiver):
    now = timezone.now()
    fn, alias, dlq = _deployed_function()
    slack = channel(kind=ChannelKind.SLACK, target=http_receiver.url("/services/T0/B0/secret"))
    incident = firing_incident(channels=[slack], now=now, function=fn, began_min=12)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert notifications_deliver(now=now).sent == 1

    [req] = http_receiver.requests
    assert req.path == "/services/T0/B0/secret" and req.headers["Content-Type"] == "application/json"
    body = req.json
    assert body["text"].startswith(":red_circle: FIRING: checkout-api: error_rate high, 12.50 % vs > 5 % since ")
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "actions", "context"]
    assert body["blocks"][0]["text"]["text"] == "FIRING CRITICAL · checkout-api: error_rate high"
    facts = body["blocks"][1]["text"]["text"]
    assert "*Value*  12.50 % (threshold &gt; 5 %)" in facts
    assert "*Since*  " in facts and "UTC (12 min ago)" in facts
    assert f"*Function*  checkout-api · us-east-1 · {fn.account.name}" in facts
    diagnosis = body["blocks"][2]["text"]["text"]
    assert f"• <{PUBLIC}/functions/{fn.pk}/?range=6h#deploys|live moved to version 43 by role/deployer" in diagnosis
    assert f"• <{PUBLIC}/functions/{fn.pk}/errors|KeyError: 'amount' (212 times), request 7f3c-aa>" in diagnosis
    buttons = {e["text"]["text"]: e["url"] for e in body["blocks"][3]["elements"]}
    assert buttons["Open function"] == f"{PUBLIC}/functions/{fn.pk}/"
    assert buttons["Open DLQ"] == f"{PUBLIC}/dlqs/{dlq.pk}/"
    assert buttons["Roll back live"] == f"{PUBLIC}/functions/{fn.pk}/aliases/{alias.pk}/rollback"
    # acknowledge and mute: the signed links once ops.alerts.links is there, the incident page until then
    assert buttons["Acknowledge"].startswith(PUBLIC) and buttons["Mute 1 h"].startswith(PUBLIC)
    assert str(incident.pk) in buttons["Acknowledge"]
    assert all(e["type"] == "button" and e["url"] for e in body["blocks"][3]["elements"])
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.payload["links"]["rollback"] == buttons["Roll back live"]
    assert row.attempts_log.get().status_code == 200


def test_webhook_gets_the_documented_body_and_the_idempotency_key(http_receiver):
    now = timezone.now()
    hook = channel(kind=ChannelKind.WEBHOOK, target=http_receiver.url("/alerts"))
    incident = firing_incident(channels=[hook], now=now, value=7.0, threshold=2.0)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    [req] = http_receiver.requests
    assert req.headers["Idempotency-Key"] == row.idempotency_key == f"{incident.pk}:firing:0:{hook.pk}"
    body = req.json
    assert {k: body[k] for k in ("version", "kind", "incident_id", "state", "severity", "value", "threshold",
                                 "comparison", "unit", "signal")} == {
        "version": 1, "kind": "firing", "incident_id": incident.pk, "state": "open", "severity": "critical",
        "value": 7.0, "threshold": 2.0, "comparison": ">", "unit": "%", "signal": "error_rate"}
    assert body["function"] == {"id": incident.function.pk, "name": "checkout-api", "region": "us-east-1",
                                "account": incident.function.account.account_id}
    assert body["since"] == incident.began_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [d["key"] for d in body["diagnosis"]] == ["deploy", "top_error"]
    assert body["links"]["function"] == f"{PUBLIC}/functions/{incident.function.pk}/"
    assert "facts" not in body and "buttons" not in body


def test_email_has_a_text_and_an_html_body_through_smtp(smtp_receiver, settings):
    settings.DEFAULT_FROM_EMAIL = "alerts@ops.example.test"
    now = timezone.now()
    mail = channel(kind=ChannelKind.EMAIL, target="oncall@example.test, lead@example.test")
    incident = firing_incident(channels=[mail], now=now)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert notifications_deliver(now=now).sent == 1
    [message] = smtp_receiver.messages
    assert smtp_receiver.envelopes == [("alerts@ops.example.test", ["oncall@example.test", "lead@example.test"])]
    assert message["Subject"] == "[CRITICAL] FIRING checkout-api: error_rate high"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Value: 12.50 % (threshold > 5 %)" in text
    assert f"{PUBLIC}/functions/{incident.function.pk}/?range=6h#deploys" in text
    assert "- KeyError: 'amount' (212 times), request 7f3c-aa" in text
    assert f'<a href="{PUBLIC}/functions/{incident.function.pk}/errors">KeyError: &#x27;amount&#x27; (212 times)' in html
    assert "<th" in html and "12.50 % (threshold &gt; 5 %)" in html


def test_smtp_refusals_are_permanent_and_4xx_transient(smtp_receiver):
    mail = channel(kind=ChannelKind.EMAIL, target="oncall@example.test")
    payload = {"severity": "info", "title": "t", "facts": [], "buttons": []}
    smtp_receiver.refuse(550)
    with pytest.raises(DeliveryError) as refused:
        EmailTransport().send(channel=mail, payload=payload, idempotency_key="k")
    assert refused.value.permanent and refused.value.status_code == 550
    assert refused.value.reason == "SMTP 550: recipient refused"
    smtp_receiver.refuse(451)
    with pytest.raises(DeliveryError) as later:
        EmailTransport().send(channel=mail, payload=payload, idempotency_key="k")
    assert not later.value.permanent and later.value.status_code == 451


def test_an_smtp_login_failure_is_permanent_and_never_carries_the_password(monkeypatch, settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST_PASSWORD = "hunter2-smtp-secret"

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")

    monkeypatch.setattr("django.core.mail.backends.smtp.EmailBackend.open", refuse)
    mail = channel(kind=ChannelKind.EMAIL, target="oncall@example.test")
    with pytest.raises(DeliveryError) as exc:
        EmailTransport().send(channel=mail, payload={"severity": "info", "title": "t"}, idempotency_key="k")
    assert exc.value.permanent and exc.value.reason == "SMTP authentication failed (535)"
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(("status", "body", "permanent"), [
    (500, "internal error", False), (503, "", False), (429, "rate_limited", False), (408, "", False),
    (404, "no_service", True), (410, "channel_is_archived", True), (403, "invalid_token", True),
    (404, "channel_not_found", True), (403, "action_prohibited", True), (400, "invalid_payload", True),
    (401, "", True),
])
def test_http_answers_are_classified(status, body, permanent):
    error = classify_http(status, body, {})
    assert (error.permanent, error.status_code) == (permanent, status)
    assert error.reason == f"HTTP {status}" + (f": {body}" if body else "")


def test_retry_after_is_honoured_and_capped():
    assert classify_http(429, "", {"Retry-After": "42"}).retry_after_s == 42.0
    assert classify_http(429, "", {"Retry-After": "999999"}).retry_after_s == 600
    assert classify_http(429, "", {"Retry-After": "soon"}).retry_after_s is None


def test_a_resolved_notification_says_when_and_how_long(http_receiver):
    from datetime import timedelta

    now = timezone.now()
    slack = channel(kind=ChannelKind.SLACK, target=http_receiver.url())
    incident = firing_incident(channels=[slack], now=now, began_min=47)
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    incident.status, incident.resolved_at, incident.notify_seq = "resolved", now + timedelta(minutes=3), 1
    incident.save()
    later = now + timedelta(minutes=4)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.RESOLVED, now=later)
    assert notifications_deliver(now=later).sent == 1
    body = http_receiver.requests[-1].json
    assert body["text"].startswith(":large_green_circle: RESOLVED: checkout-api: error_rate high after 50 min")
    facts = body["blocks"][1]["text"]["text"]
    assert "*Duration*  50 min" in facts and "*Resolved*  " in facts
    labels = [e["text"]["text"] for e in body["blocks"][3]["elements"]]
    assert "Acknowledge" not in labels and "Roll back live" not in labels
    assert row.payload["duration_s"] == 50 * 60 and Notification.objects.filter(state="sent").count() == 2


def test_an_automatic_rollback_is_said_in_the_message(http_receiver):
    from ops.models import IncidentEvent

    now = timezone.now()
    slack = channel(kind=ChannelKind.SLACK, target=http_receiver.url())
    incident = firing_incident(channels=[slack], now=now)
    IncidentEvent.objects.create(incident=incident, at=now, kind="auto_rollback",
                                 text="live rolled back from 43 to 42 (rule error_rate high, 4 min after the deploy)")
    notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    notifications_deliver(now=now)
    facts = http_receiver.requests[0].json["blocks"][1]["text"]["text"]
    assert "*Automatic rollback*  live rolled back from 43 to 42 (rule error_rate high, 4 min after the deploy)" in facts


def test_an_incident_about_no_function_and_with_no_flip_still_renders():
    from datetime import timedelta

    from ops.alerts.messages import incident_payload
    from ops.models import Incident

    now = timezone.now()
    incident = Incident.objects.create(scope_key="123456789012:us-east-1", title="us-east-1 concurrency headroom low",
                                       began_at=now - timedelta(minutes=3), opened_at=now, severity="warning")
    payload = incident_payload(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert payload["function"] is None and payload["links"]["function"] == "" and payload["value"] is None
    assert payload["facts"][0] == ("Scope", "123456789012:us-east-1")
    assert [b["label"] for b in payload["buttons"]] == ["Acknowledge", "Mute 1 h", "Incident"]
    assert payload["summary"] == "FIRING: us-east-1 concurrency headroom low"
