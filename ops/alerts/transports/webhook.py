"""Generic JSON webhook: the documented body below, POSTed with an ``Idempotency-Key`` header
(the outbox key: a receiver that sees the same key twice has seen the same notification).

Body (version 1)::

    {"version": 1, "kind": "firing|repeat|resolved|test", "incident_id": 42, "state": "open|resolved",
     "severity": "critical|warning|info", "title": "...", "rule": "...", "signal": "error_rate",
     "function": {"id": 7, "name": "checkout-api", "region": "us-east-1", "account": "123456789012"},
     "value": 12.5, "threshold": 5.0, "comparison": ">", "unit": "%",
     "since": "2026-12-01T19:20:00Z", "resolved_at": null, "duration_s": null,
     "diagnosis": [{"key": "deploy", "text": "...", "url": "https://..."}],
     "links": {"incident": "...", "function": "...", "dlq": "...", "rollback": "...", "ack": "...", "mute": "..."}}
"""

from __future__ import annotations

from ops.alerts.transports.base import SendResult, Transport
from ops.models.choices import ChannelKind

BODY_FIELDS = ("kind", "incident_id", "state", "severity", "title", "rule", "signal", "function", "value",
               "threshold", "comparison", "unit", "since", "resolved_at", "duration_s", "diagnosis", "links")


def webhook_body(payload: dict) -> dict:
    return {"version": 1, **{name: payload.get(name) for name in BODY_FIELDS}}


class WebhookTransport(Transport):
    kind = ChannelKind.WEBHOOK

    def send(self, *, channel, payload: dict, idempotency_key: str) -> SendResult:
        return self.post_json(url=channel.target, body=webhook_body(payload),
                              headers={"Idempotency-Key": idempotency_key})
