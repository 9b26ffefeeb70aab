"""Rows the notification tests start from, written straight into Postgres: a channel, a rule
sending to it, and an open incident that rule is firing in (its state and its firing flip)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ops.models import AlertFlip, AlertRule, AlertState, Channel, Incident
from ops.models.choices import AlertSeverity, AlertStateName, ChannelKind
from tests.factories import FunctionFactory

DIAGNOSIS = [
    {"key": "deploy", "text": "live moved to version 43 by role/deployer 4 min before it began",
     "url": "/functions/{fn}/?range=6h#deploys"},
    {"key": "top_error", "text": "KeyError: 'amount' (212 times), request 7f3c-aa", "url": "/functions/{fn}/errors"},
]


def channel(*, kind: str = ChannelKind.SLACK, target: str, name: str | None = None) -> Channel:
    from ops.alerts.targets import target_hint

    return Channel.objects.create(name=name or f"{kind}-{Channel.objects.count() + 1}", kind=kind, target=target,
                                  target_hint=target_hint(kind=kind, target=target))


def firing_incident(*, channels: list[Channel], now: datetime, function=None, began_min: int = 10,
                    value: float = 12.5, threshold: float = 5.0, signal: str = "error_rate", **rule_fields) -> Incident:
    function = function or FunctionFactory(name="checkout-api")
    rule_fields.setdefault("group_wait_s", 0)
    rule = AlertRule.objects.create(name=f"{signal} high", signal=signal, threshold=threshold,
                                    severity=AlertSeverity.CRITICAL, **rule_fields)
    rule.channels.set(channels)
    began = now - timedelta(minutes=began_min)
    incident = Incident.objects.create(
        function=function, title=f"{function.name}: {rule.name}", severity=AlertSeverity.CRITICAL,
        began_at=began, opened_at=now - timedelta(seconds=5),
        diagnosis=[{**d, "url": d["url"].format(fn=function.pk)} for d in DIAGNOSIS],
    )
    AlertState.objects.create(rule=rule, function=function, state=AlertStateName.FIRING, since=began, value=value,
                              incident=incident)
    AlertFlip.objects.create(rule=rule, rule_name=rule.name, function=function, old_state=AlertStateName.PENDING,
                             new_state=AlertStateName.FIRING, at=now - timedelta(minutes=1), value=value,
                             threshold=threshold, severity=rule.severity, processed_at=now, incident=incident)
    return incident
