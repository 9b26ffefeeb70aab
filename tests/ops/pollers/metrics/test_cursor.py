from datetime import timedelta

import pytest

from ops.models import Function, MetricsCadence, PollSource, PollStatus
from ops.pollers.metrics import poll as metrics
from ops.pollers.metrics.cursor import MetricsCursor
from ops.selectors.usage import api_spend
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, put_points, run


def _decode(data):
    warnings = []
    return MetricsCursor.from_json(data, warn=warnings.append), warnings


def test_a_cursor_survives_a_round_trip_through_json():
    end = now_minute()
    cursor = MetricsCursor(until={"7": end, "scope": end - timedelta(minutes=3)}, partial={"7": 2})
    data = cursor.to_json()
    assert data == {"until": {"7": end.isoformat(), "scope": (end - timedelta(minutes=3)).isoformat()}, "partial": {"7": 2}}
    again, warnings = _decode(data)
    assert again == cursor and warnings == []


@pytest.mark.parametrize(
    "data",
    [
        ["not", "an", "object"],
        {"until": "2026"},
        {"until": {"7": "yesterday"}},
        {"until": {"7": 1234}},
        {"partial": {"7": -1}},
        {"partial": {"7": True}},
        {"until": {}, "somebody_elses": 1},
    ],
)
def test_malformed_content_decodes_to_an_empty_cursor_with_a_warning(data):
    cursor, warnings = _decode(data)
    assert cursor == MetricsCursor()
    assert len(warnings) == 1 and warnings[0].startswith("metrics cursor unreadable")


def test_an_empty_row_and_the_keys_moved_out_by_migration_0005_decode_quietly():
    end = now_minute()
    assert _decode({}) == (MetricsCursor(), [])
    cursor, warnings = _decode({"until": {"7": end.isoformat()}, "active": {"7": "x"}, "cadence": {"busy_s": 60}})
    assert cursor.until == {"7": end} and warnings == []


@pytest.fixture
def moto_metrics(aws, settings):
    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    return aws


@pytest.mark.django_db(transaction=True)
def test_a_poll_with_a_damaged_cursor_warns_reads_afresh_and_writes_a_sound_one(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    fn = FunctionFactory(account=account, name="orders", timeout_s=30)
    PollStatus.objects.create(source=PollSource.METRICS, account=account, region=REGION, cursor={"until": [1, 2]})
    end = now_minute()
    put_points("Invocations", {"FunctionName": "orders"}, {end - timedelta(minutes=4): 3})
    at_clock(monkeypatch, metrics, end + timedelta(seconds=20))

    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok
    assert any(w.startswith("metrics cursor unreadable") for w in outcome.warnings)
    cursor = PollStatus.objects.get(source=PollSource.METRICS, account=account).cursor
    assert set(cursor) == {"until", "partial"}
    assert cursor["until"][str(fn.pk)] == end.isoformat()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stored", [["not", "an", "object"], "x", 5])
def test_a_poll_whose_whole_stored_cursor_is_not_an_object_runs_and_says_so(moto_metrics, monkeypatch, stored):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    fn = FunctionFactory(account=account, name="orders", timeout_s=30)
    PollStatus.objects.create(source=PollSource.METRICS, account=account, region=REGION, cursor=stored)
    end = now_minute()
    put_points("Invocations", {"FunctionName": "orders"}, {end - timedelta(minutes=4): 3})
    at_clock(monkeypatch, metrics, end + timedelta(seconds=20))

    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok and outcome.error_code == ""
    assert f"stored cursor was a {type(stored).__name__}, not an object; this run starts afresh" in outcome.warnings
    assert PollStatus.objects.get(source=PollSource.METRICS, account=account).cursor["until"][str(fn.pk)] == end.isoformat()


@pytest.mark.django_db(transaction=True)
def test_the_poll_records_the_last_invoked_minute_and_its_cadence_outside_the_cursor(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    busy = FunctionFactory(account=account, name="orders", timeout_s=30)
    idle = FunctionFactory(account=account, name="mailer", timeout_s=30)
    end = now_minute()
    put_points("Invocations", {"FunctionName": "orders"}, {end - timedelta(minutes=9): 2, end - timedelta(minutes=4): 5})
    put_points("Invocations", {"FunctionName": "orders"}, {end - timedelta(minutes=2): 0})
    at_clock(monkeypatch, metrics, end + timedelta(seconds=20))
    assert run("metrics", account, metrics.metrics_poll).ok

    busy.refresh_from_db()
    idle.refresh_from_db()
    assert busy.last_invoked_at == end - timedelta(minutes=4)  # a zero-invocation minute does not count
    assert idle.last_invoked_at is None
    cadence = MetricsCadence.objects.get(account=account, region=REGION)
    assert (cadence.busy_s, cadence.idle_s) == (60, 900)
    assert cadence.planned_at == end + timedelta(seconds=20)
    spend = api_spend(now=end)
    assert [(c.label, c.busy_s, c.usd_per_day) for c in spend.cadences] == [
        (f"{account.name}/{REGION}", 60, cadence.usd_per_day)
    ]

    # A later activity value is never moved back by a poll that re-reads an older window.
    later = end + timedelta(minutes=30)
    Function.objects.filter(pk=busy.pk).update(last_invoked_at=later)
    at_clock(monkeypatch, metrics, end + timedelta(minutes=2, seconds=20))
    assert run("metrics", account, metrics.metrics_poll).ok
    busy.refresh_from_db()
    assert busy.last_invoked_at == later
