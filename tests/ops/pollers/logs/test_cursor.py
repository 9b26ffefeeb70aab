from datetime import timedelta

import pytest

from ops.models import PollSource, PollStatus
from ops.pollers.logs import poll as logs
from ops.pollers.logs.cursor import LogsCursor
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, run


def _decode(data):
    warnings = []
    return LogsCursor.from_json(data, warn=warnings.append), warnings


def test_a_cursor_survives_a_round_trip_through_json():
    end = now_minute()
    cursor = LogsCursor(groups={"/aws/lambda/orders": end}, active={"7": end - timedelta(minutes=2)})
    data = cursor.to_json()
    assert data == {"groups": {"/aws/lambda/orders": end.isoformat()}, "active": {"7": (end - timedelta(minutes=2)).isoformat()}}
    assert _decode(data) == (cursor, [])


@pytest.mark.parametrize(
    "data",
    ["text", {"groups": []}, {"groups": {"/aws/lambda/x": "soon"}}, {"active": {"7": None}}, {"until": {}}],
)
def test_malformed_content_decodes_to_an_empty_cursor_with_a_warning(data):
    cursor, warnings = _decode(data)
    assert cursor == LogsCursor()
    assert len(warnings) == 1 and warnings[0].startswith("logs cursor unreadable")


@pytest.fixture
def filter_logs(aws, settings):
    settings.LOGS_SOURCE = "filter"
    return aws


def _windows(monkeypatch) -> list[tuple[str, object, object]]:
    """Record the log groups the poller reads (and their windows) instead of reading them."""
    seen = []

    def fake(scope, group, *, start, end):
        seen.append((group, start, end))
        return []

    monkeypatch.setattr(logs.aws_logs, "filter_events", fake)
    return seen


@pytest.mark.django_db(transaction=True)
def test_busy_comes_from_the_functions_last_invoked_minute(filter_logs, monkeypatch, settings):
    settings.LOGS_POLL_SECONDS = 60
    settings.METRICS_IDLE_POLL_SECONDS = 900
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    end = now_minute()
    FunctionFactory(account=account, name="orders", last_invoked_at=end - timedelta(minutes=20))
    FunctionFactory(account=account, name="mailer", last_invoked_at=end - timedelta(hours=2))
    FunctionFactory(account=account, name="never")
    seen = _windows(monkeypatch)
    at_clock(monkeypatch, logs, end)
    assert run("logs", account, logs.logs_poll).ok
    assert sorted(g for g, _, _ in seen) == ["/aws/lambda/mailer", "/aws/lambda/never", "/aws/lambda/orders"]

    # Two minutes on: only the function invoked within the hour is due again.
    seen.clear()
    at_clock(monkeypatch, logs, end + timedelta(minutes=2))
    assert run("logs", account, logs.logs_poll).ok
    assert [g for g, _, _ in seen] == ["/aws/lambda/orders"]
    cursor = PollStatus.objects.get(source=PollSource.LOGS, account=account).cursor
    assert cursor["groups"]["/aws/lambda/orders"] == (end + timedelta(minutes=2)).isoformat()
    assert cursor["groups"]["/aws/lambda/mailer"] == end.isoformat()


@pytest.mark.django_db(transaction=True)
def test_a_poll_with_a_damaged_cursor_warns_and_reads_afresh(filter_logs, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    PollStatus.objects.create(source=PollSource.LOGS, account=account, region=REGION, cursor={"groups": "?"})
    seen = _windows(monkeypatch)
    end = now_minute()
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and any(w.startswith("logs cursor unreadable") for w in outcome.warnings)
    assert [g for g, _, _ in seen] == ["/aws/lambda/orders"]
    assert PollStatus.objects.get(source=PollSource.LOGS, account=account).cursor["groups"] == {
        "/aws/lambda/orders": seen[0][2].isoformat()
    }
