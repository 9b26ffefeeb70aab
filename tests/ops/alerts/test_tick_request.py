"""The metrics poller asks for an evaluation tick once it stored new minutes, debounced."""

from __future__ import annotations

import pytest
from django.core.cache import cache

import ops.tasks.alerts as alert_tasks
import ops.tasks.pollers as pollers
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_a_metrics_run_that_wrote_rows_asks_for_one_tick(monkeypatch, django_capture_on_commit_callbacks):
    cache.delete("alerts-tick-requested")
    account = AccountFactory()
    sent = []
    written = iter([12, 7, 0])
    monkeypatch.setattr(pollers, "_poll", lambda *a, **kw: next(written))
    # after the debounce, so the runs folded into it are committed when it starts
    monkeypatch.setattr(alert_tasks.alerts_tick, "apply_async",
                        lambda countdown=None: sent.append(("tick", countdown)))
    with django_capture_on_commit_callbacks(execute=True):
        assert pollers.poll_metrics(account.pk, "us-east-1") == 12
        assert pollers.poll_metrics(account.pk, "eu-west-1") == 7  # within the debounce: no second tick
    assert sent == [("tick", pollers.ALERTS_TICK_DEBOUNCE_S)]
    cache.delete("alerts-tick-requested")
    with django_capture_on_commit_callbacks(execute=True):
        assert pollers.poll_metrics(account.pk, "us-east-1") == 0  # nothing stored: no tick
    assert sent == [("tick", pollers.ALERTS_TICK_DEBOUNCE_S)]
    assert cache.get("alerts-tick-requested") is None
