"""Hostile log lines between good ones: the good lines are counted, the bad one is quarantined with
its reason, and the cursor moves on (through the sandbox over HTTP, both read paths)."""

import json
from datetime import timedelta

import pytest

from ops.models import ErrorGroup, LogLine, MinuteStat, PollStatus, Quarantine
from ops.pollers.logs import poll as logs
from ops.pollers.logs import store
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.logs.test_poll import _put, _report, _rid
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, run

pytestmark = pytest.mark.django_db(transaction=True)
RID = _rid(9)

HOSTILE = {
    # the old field regex took time quadratic in this line's length
    "long_report": (f"REPORT RequestId: {RID}\t" + "Memory Size " * 21_000, "too_long", 0),
    "memory_size": (f"REPORT RequestId: {RID}\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 99999999999 MB\tMax Memory Used: 60 MB\t", "out_of_bounds", 0),
    "json_memory": (
        json.dumps({"time": "x", "type": "platform.report", "record": {"requestId": RID, "metrics": {"durationMs": 5.0, "billedDurationMs": 5, "memorySizeMB": 1e20, "maxMemoryUsedMB": 60}}}),
        "out_of_bounds",
        0,
    ),
    "infinite_duration": (f"REPORT RequestId: {RID}\tDuration: 1e308 ms\tBilled Duration: 1e308 ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB\t", "out_of_bounds", 0),
    "negative_duration": (f"REPORT RequestId: {RID}\tDuration: -5.00 ms\tBilled Duration: 5 ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB\tInit Duration: -100.00 ms\t", "out_of_bounds", 0),
    "nul_byte": (f"[ERROR]\t2026-11-23T10:00:00.000Z\t{RID}\tValueError: bad\x00byte", "sanitised", 1),
    "lone_surrogate": (f"[ERROR]\t2026-11-23T10:00:00.000Z\t{RID}\tValueError: bad \ud800 char", "sanitised", 1),
    "deep_json": ('{"level":"ERROR","a":' + "[" * 20_000 + "]" * 20_000 + "}", "too_deep", 0),
    "long_json_error": ('{"level":"ERROR","errorType":"ValueError","message":"boom 1","requestId":"%s","pad":"%s"}' % (RID, "x" * 100_000), "too_long", 1),
    # too long to decode; the error its head states still counts
    "deeper_json": ('{"level":"ERROR","requestId":"%s","a":' % RID + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}", "too_long", 1),
}


@pytest.mark.parametrize("source", ["filter", "insights"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_line_is_quarantined_and_the_rest_of_the_window_is_stored(aws, monkeypatch, settings, case, source):
    settings.LOGS_SOURCE = source
    line, reason, counted_errors = HOSTILE[case]
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", memory_mb=512)
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    s = timedelta(seconds=1)
    _put(
        "orders",
        [
            (m1, _report(1, billed=100, init=50.0)),
            (m1 + s, f"[ERROR]\t{m1.isoformat()}\t{_rid(2)}\tOrderNotFoundError: order 7 not found"),
            (m1 + 2 * s, line),
            (m1 + 3 * s, _report(3, billed=200)),
        ],
    )
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    row = MinuteStat.objects.get(series__function__name="orders", ts=m1)
    assert (row.reports, row.cold_starts, row.billed_duration_sum) == (2, 1, 300.0)
    assert row.billed_gb_s == pytest.approx(0.3 * 0.5) and row.memory_size_mb == 512
    assert row.log_errors == 1 + counted_errors
    assert ErrorGroup.objects.get(error_type="OrderNotFoundError").count == 1
    q = Quarantine.objects.get()
    assert (q.source, q.reason, q.count, q.account_id, q.region) == ("logs", reason, 1, account.pk, REGION)
    sample = q.samples[0]
    assert len(sample["raw"]) < 600 and "\x00" not in sample["raw"] and "\ud800" not in sample["raw"]
    assert sample["where"].startswith("/aws/lambda/orders ")
    status = PollStatus.objects.get(source="logs")
    assert status.cursor["groups"]["/aws/lambda/orders"] == end.isoformat()
    if counted_errors:  # stored, without the character the database refuses
        stored = LogLine.objects.get(request_id=RID).message
        assert "\x00" not in stored and "\ud800" not in stored and len(stored) <= 8000
    # The next run re-reads the lookback: nothing is counted twice.
    at_clock(monkeypatch, logs, end + timedelta(minutes=1))
    assert run("logs", account, logs.logs_poll).ok
    assert Quarantine.objects.get().count == 1
    assert MinuteStat.objects.get(series__function__name="orders", ts=m1).reports == 2


def test_a_line_the_database_still_refuses_is_quarantined_alone(filter_logs, monkeypatch):
    """With sanitising switched off, the NUL line reaches the database: it is found by bisection and
    set aside; the window's other error lines and its REPORT numbers are stored."""
    monkeypatch.setattr(store, "sanitise", lambda text: text)
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", memory_mb=512)
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    lines = [(m1 + timedelta(seconds=i), f"[ERROR]\t{m1.isoformat()}\t{_rid(i)}\tValueError: bad {i}") for i in range(6)]
    lines[3] = (lines[3][0], f"[ERROR]\t{m1.isoformat()}\t{_rid(3)}\tValueError: bad\x00byte")
    _put("orders", [*lines, (m1 + timedelta(seconds=7), _report(8))])
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    assert LogLine.objects.count() == 5 and not LogLine.objects.filter(request_id=_rid(3)).exists()
    assert MinuteStat.objects.get(ts=m1).reports == 1
    q = Quarantine.objects.get()
    assert (q.reason, q.count) == ("db_refused", 1) and "ValueError" in q.samples[0]["detail"]
    assert PollStatus.objects.get(source="logs").cursor["groups"]["/aws/lambda/orders"] == end.isoformat()


@pytest.fixture
def filter_logs(aws, settings):
    settings.LOGS_SOURCE = "filter"
    return aws
