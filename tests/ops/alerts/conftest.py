"""Helpers for the incident tests: rules, their states and flips written as the evaluator writes
them, and the outbox's enqueue recorded (the outbox is another part's; its contract is the call)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models.alerts import AlertFlip, AlertRule, AlertState
from ops.models.choices import AlertStateName


@pytest.fixture
def enqueued(monkeypatch):
    """Every notification round flips_process asks for: (incident id, kind, notify_seq)."""
    from ops.alerts import incidents

    calls: list[tuple[int, str, int]] = []
    monkeypatch.setattr(incidents, "_enqueue",
                        lambda *, incident, kind, now: calls.append((incident.pk, str(kind), incident.notify_seq)) or [])
    return calls


def rule_make(name="error rate > 5 %", *, severity="warning", signal="error_rate", threshold=5.0, **kw) -> AlertRule:
    return AlertRule.objects.create(name=name, signal=signal, threshold=threshold, severity=severity,
                                    windows_m=kw.pop("windows_m", 3), windows_n=kw.pop("windows_n", 5), **kw)


def flip_make(rule: AlertRule, function, new: str, *, old: str | None = None, at=None, value=12.0) -> AlertFlip:
    """Move the rule × function state to ``new`` and append its flip, as the evaluator does."""
    at = at or timezone.now().replace(second=0, microsecond=0)
    state, _ = AlertState.objects.get_or_create(rule=rule, function=function, scope_key="",
                                                defaults={"since": at, "state": AlertStateName.OK})
    old = old or state.state
    AlertState.objects.filter(pk=state.pk).update(state=new, since=at, value=value, evaluated_until=at)
    return AlertFlip.objects.create(rule=rule, rule_name=rule.name, function=function, old_state=old, new_state=new,
                                    at=at, value=value, threshold=rule.threshold, severity=rule.severity)


def minutes_ago(n: int):
    return timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=n)
